"""The bureau's HTTP service (``ecogis serve WORKSPACE``): siting checks and layers over HTTP.

:mod:`ecogis.service.app` builds the FastAPI application (extra ``ecogis[server]``);
:mod:`ecogis.service.auth` reads API keys; :mod:`ecogis.service.audit` writes every request
to the workspace's ``ecogis_audit`` table. Nothing here is imported by the core or by
``ecogis --help``: FastAPI and uvicorn load only when ``serve`` runs.
"""
