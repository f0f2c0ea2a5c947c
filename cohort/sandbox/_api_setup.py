"""The API's design methods: import and delete of the dictionary, arms, events, mapping, repeats and DAGs.

:class:`ProjectSetup` answers the requests that change a project's design (``action=import`` or
``action=delete``, or a ``data`` field without ``action``, as PyCap sends ``import_metadata``
and ``import_repeating_instruments_events``) and the user–DAG assignment
(``content=userDagMapping``). Each change is made on a copy of the project and adopted only
when it succeeds, so a refused import changes nothing. The functions that change the project
are in :mod:`._api_design`.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox._api_design import (
    delete_arms,
    delete_dags,
    delete_events,
    import_arms,
    import_dags,
    import_events,
    import_form_event_mapping,
    import_metadata,
    import_repeating,
)
from proximite.cohort.sandbox._api_wire import CONTENT_TYPES, ApiError, ApiRequest, ApiResponse, error_format

__all__ = ["ProjectSetup", "DESIGN_CONTENTS", "is_change", "count_answer"]

#: Contents whose import (and, for some, delete) the sandbox serves, with the log's wording.
DESIGN_CONTENTS = {
    "metadata": "Upload data dictionary (API)",
    "arm": "Import arms (API)",
    "event": "Import events (API)",
    "formEventMapping": "Import instrument-event mappings (API)",
    "repeatingFormsEvents": "Import repeating instruments and events (API)",
    "dag": "Import data access groups (API)",
}
#: Contents that can be deleted, and the list parameter naming what to delete.
_DELETABLE = {"arm": "arms", "event": "events", "dag": "dags"}
_NO_DESIGN_RIGHTS = (
    "You do not have Project Design and Setup rights: a token bound to a data access group cannot change the "
    "project's design"
)


def is_change(request: ApiRequest) -> bool:
    """Whether a request imports or deletes (rather than exports)."""
    action = request.get("action").lower()
    return action in {"import", "delete"} or (action == "" and request.raw("data") is not None)


def count_answer(count: int, request: ApiRequest) -> ApiResponse:
    """REDCap's answer to an import or delete: the count, in the return format."""
    fmt = error_format(request) if request.get("returnFormat") else "json"
    if fmt == "xml":
        body = f'<?xml version="1.0" encoding="UTF-8" ?><count>{count}</count>'
        return ApiResponse(200, body.encode(), CONTENT_TYPES["xml"])
    return ApiResponse(200, str(count).encode(), CONTENT_TYPES["json" if fmt == "json" else "csv"])


class ProjectSetup:
    """Design imports and deletes, and user–DAG assignments, over a live project.

    Parameters
    ----------
    parse : callable
        ``parse(data, fmt, delimiter=...)``: the rows of an import body as a frame of strings.
    """

    def __init__(self, parse: Callable[..., pd.DataFrame]) -> None:
        self._parse = parse
        #: Username → the unique name of the DAG it is assigned to (``""``: no group).
        self.user_dags: dict[str, str] = {}
        #: Users of the project (each token's user).
        self.users: set[str] = set()

    # ------------------------------------------------------------------------------- design
    def change(self, content: str, request: ApiRequest, project: RedcapProject, *, dag: str | None) -> tuple[RedcapProject, int, str]:
        """Apply an import or delete to a copy of ``project``; the copy, the count and the log's wording.

        Raises
        ------
        ApiError
            The token is bound to a group, the action is not served for this content, or the
            change is refused.
        """
        if dag is not None:
            raise ApiError(403, _NO_DESIGN_RIGHTS)
        action = request.get("action").lower() or "import"
        draft = project.copy()
        if action == "delete":
            if content not in _DELETABLE:
                raise ApiError(400, 'The value of the parameter "action" is not valid')
            names = request.list(_DELETABLE[content])
            if not names:
                raise ApiError(400, f"No {_DELETABLE[content]} were provided to delete")
            deleter = {"arm": delete_arms, "event": delete_events, "dag": delete_dags}[content]
            count = deleter(draft, names)
            return draft, count, DESIGN_CONTENTS[content].replace("Import", "Delete")
        if action != "import":
            raise ApiError(400, 'The value of the parameter "action" is not valid')
        rows = self._rows(request)
        override = request.flag("override")
        importer: dict[str, Callable[[RedcapProject, pd.DataFrame], int]] = {
            "metadata": import_metadata,
            "arm": lambda p, r: import_arms(p, r, override=override),
            "event": lambda p, r: import_events(p, r, override=override),
            "formEventMapping": import_form_event_mapping,
            "repeatingFormsEvents": import_repeating,
            "dag": import_dags,
        }
        if content == "metadata" and len(project.records) and project.info.get("in_production"):
            raise ApiError(400, "You cannot import a data dictionary into a project in production status")
        count = importer[content](draft, rows)
        return draft, count, DESIGN_CONTENTS[content]

    def _rows(self, request: ApiRequest) -> pd.DataFrame:
        data = request.raw("data")
        if data is None or not data.strip():
            raise ApiError(400, "No data was provided to import")
        fmt = request.get("format", "xml").lower() or "xml"
        return self._parse(data, fmt, delimiter=request.get("csvDelimiter"))

    # ------------------------------------------------------------------------ user–DAG mapping
    def user_dag_rows(self, scope_dag: str | None) -> pd.DataFrame:
        """``content=userDagMapping`` export: every user and its group's unique name."""
        users = sorted(self.users | set(self.user_dags))
        frame = pd.DataFrame(
            {"username": users, "redcap_data_access_group": [self.user_dags.get(user, "") for user in users]},
            columns=["username", "redcap_data_access_group"],
        )
        if scope_dag is not None:
            frame = frame[frame["redcap_data_access_group"] == scope_dag]
        return frame.reset_index(drop=True).astype(object)

    def assign_users(self, request: ApiRequest, project: RedcapProject, *, dag: str | None) -> int:
        """``content=userDagMapping`` import: assign users to groups (blank: no group); the count."""
        if dag is not None:
            raise ApiError(403, _NO_DESIGN_RIGHTS)
        rows = self._rows(request)
        if "username" not in rows.columns or "redcap_data_access_group" not in rows.columns:
            raise ApiError(400, "The user-DAG assignments lack the column(s) username, redcap_data_access_group")
        groups = set(project.dag_names or ())
        errors = []
        assignments: dict[str, str] = {}
        for number, row in enumerate(rows.fillna("").astype(str).to_dict("records"), start=1):
            user, group = row["username"].strip(), row["redcap_data_access_group"].strip()
            if user not in self.users:
                errors.append(f"row {number}: '{user}' is not a user of the project")
            elif group and group not in groups:
                errors.append(f"row {number}: '{group}' is not a valid unique group name of a Data Access Group")
            else:
                assignments[user] = group
        if errors:
            raise ApiError(400, "The user-DAG assignments cannot be imported: " + "; ".join(errors))
        self.user_dags.update(assignments)
        return len(assignments)

    def group_of(self, username: str, bound: str | None) -> str | None:
        """The group a user's requests are limited to: its assignment, else the token's own group."""
        if username in self.user_dags:
            return self.user_dags[username] or None
        return bound

    def forget_groups(self, project: RedcapProject) -> None:
        """Drop assignments to groups that no longer exist (a deleted DAG)."""
        groups = set(project.dag_names or ())
        for user, group in list(self.user_dags.items()):
            if group and group not in groups:
                self.user_dags[user] = ""

