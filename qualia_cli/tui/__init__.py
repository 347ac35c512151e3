"""The Textual chat interface (`qualia play`): the only package that imports Textual.

Screens render engine events; every model and database call runs in a worker started by
``service.SessionService`` / ``service.StartService``, which posts messages back.
"""
