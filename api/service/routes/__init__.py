"""One router per resource, mounted under ``/api/v1`` by :func:`api.service.app.create_app`."""
