"""Tools for the person at the projector, run on the host with the dev environment.

``python -m workshop.status``  `make status`: ``common.status`` on the compose project,
                               its ZooKeeper client ports found by asking Docker
``python -m workshop.logs``    `make logs`: both workers' lines merged by time, short
``python -m workshop.timeline`` `make timeline`: who led when, as a PNG and as text

They drive the user's own ``docker compose`` (or ``docker-compose``) and ``docker``
commands. ``python -m workshop.tools`` is the same tools in a container (the compose
file's ``tools`` service), for a participant with Docker and nothing else.
"""
