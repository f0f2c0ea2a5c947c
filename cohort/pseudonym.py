"""Pseudonymous identifiers: keyed hashes of REDCap record ids (and of repeat instances).

``family_id = HMAC-SHA256(key, project + record_id)``, hex, truncated. The key is a secret
(``PROXIMITE_PSEUDONYM_KEY`` or the project's key file, see
:func:`proximite.config.pseudonym_key`) and the project name a public salt, so:

- the same key and project give the same ids across pulls (families can be followed over
  waves and joined to the activity registry);
- another key gives unrelated ids, and without the key an id cannot be traced back to a
  record id by hashing candidate record ids.

Children, needs and referrals are REDCap repeat instances of a family's record; their ids hash
the record id with the form and the instance number, ``project + record_id + ":" + form + ":" +
instance``, so they are as stable as the family's id.

These functions are pure: they return new Series and never log or raise with the values.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

__all__ = ["pseudonym", "pseudonymise", "pseudonymise_instances", "MAX_LENGTH"]

#: Hex characters in an HMAC-SHA256 digest: the longest id possible.
MAX_LENGTH = 64


def _check(key: bytes, length: int) -> None:
    if not isinstance(key, (bytes, bytearray)) or not key:
        # Never echo the key, not even its length.
        raise ValueError("the pseudonym key must be non-empty bytes")
    if not 1 <= int(length) <= MAX_LENGTH:
        raise ValueError(f"length must be between 1 and {MAX_LENGTH} hex characters, not {length}")


def pseudonym(value: str, *, key: bytes, project: str, length: int = 16) -> str:
    """Pseudonym of one value.

    Parameters
    ----------
    value : str
        A record id (or an already composed ``record_id:form:instance``).
    key : bytes, keyword-only
        The secret key.
    project : str, keyword-only
        The project name (``[project] name`` of the settings), prefixed to the value.
    length : int, keyword-only
        Hex characters kept (16 = 64 bits).

    Returns
    -------
    str

    Notes
    -----
    .. math:: \\mathrm{id} = \\mathrm{hex}\\big(\\mathrm{HMAC\\text{-}SHA256}(key,\\ project \\Vert value)\\big)_{[0:length]}

    with the message UTF-8 encoded.
    """
    _check(key, length)
    message = (project + str(value)).encode("utf-8")
    return hmac.new(bytes(key), message, hashlib.sha256).hexdigest()[:length]


def _digests(messages: list[object], *, key: bytes, project: str, length: int) -> list[str | None]:
    """HMAC of ``project + message`` for each message (None stays None).

    The HMAC state keyed and fed with the project is built once and copied per message: the same
    digest as :func:`hmac.new` per value, at about two thirds of the cost.
    """
    copy = hmac.new(bytes(key), project.encode("utf-8"), hashlib.sha256).copy
    digests: list[str | None] = []
    append = digests.append
    for message in messages:
        if message is None:
            append(None)
            continue
        state = copy()
        state.update(str(message).encode("utf-8"))
        append(state.hexdigest()[:length])
    return digests


def _hash_distinct(values: pd.Series, *, key: bytes, project: str, length: int) -> pd.Series:
    """Hash each distinct non-null value once, then broadcast back to the rows."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # Position -1 (what factorize gives a null) takes the appended None.
    digests = np.array(_digests([*uniques, None], key=key, project=project, length=length), dtype=object)
    result = pd.Series(digests[codes], index=values.index, name=values.name, copy=False)
    return result.astype("string")


def pseudonymise(values: pd.Series, *, key: bytes, project: str, length: int = 16) -> pd.Series:
    """Pseudonymise a Series of record ids.

    Parameters
    ----------
    values : Series
        Record ids (any dtype; they are hashed as their ``str``). Nulls stay null.
    key : bytes, keyword-only
        The secret key.
    project : str, keyword-only
        The project name, prefixed to every value before hashing.
    length : int, keyword-only
        Hex characters kept (1 to 64; default 16 = 64 bits).

    Returns
    -------
    Series
        dtype ``"string"``, same index and name as ``values``.

    Notes
    -----
    .. math:: \\mathrm{id}(r) = \\mathrm{hex}\\big(\\mathrm{HMAC\\text{-}SHA256}(key,\\ project \\Vert r)\\big)_{[0:length]}

    Each distinct value is hashed once (two million activity rows name about fifty thousand
    families), so the cost grows with the number of distinct ids, not of rows.

    Examples
    --------
    >>> import pandas as pd
    >>> ids = pseudonymise(pd.Series(["1001", None, "1001"]), key=b"secret", project="demo", length=8)
    >>> ids.iloc[0] == ids.iloc[2], ids.isna().tolist()
    (True, [False, True, False])
    """
    _check(key, length)
    return _hash_distinct(values, key=key, project=project, length=length)


def pseudonymise_instances(
    record_ids: pd.Series,
    instances: pd.Series,
    *,
    form: str,
    key: bytes,
    project: str,
    length: int = 16,
) -> pd.Series:
    """Pseudonymise repeat instances of a form (a child, a need, a referral).

    Parameters
    ----------
    record_ids : Series
        The family's record id on each row.
    instances : Series
        ``redcap_repeat_instance`` (1, 2, ...), aligned with ``record_ids``.
    form : str, keyword-only
        The repeating form (``enfant``, ``besoin``, ``reference``); it keeps a child's id apart
        from a need's id of the same record and instance.
    key, project, length
        As in :func:`pseudonymise`.

    Returns
    -------
    Series
        dtype ``"string"``, index of ``record_ids``; null where the record id or the instance is.

    Notes
    -----
    .. math:: \\mathrm{id}(r, f, i) = \\mathrm{hex}\\big(\\mathrm{HMAC\\text{-}SHA256}(key,\\ project \\Vert r \\Vert \\texttt{":"} \\Vert f \\Vert \\texttt{":"} \\Vert i)\\big)_{[0:length]}

    with the instance written as a base-10 integer.
    """
    _check(key, length)
    if len(record_ids) != len(instances):
        raise ValueError("record_ids and instances must have the same length")
    records = record_ids.astype("string").to_numpy(dtype=object, na_value=None)
    # An integer instance is written "3", never "3.0", whatever the input dtype.
    numbers = pd.to_numeric(pd.Series(instances, copy=False), errors="raise").astype("Int64")
    instance_numbers = numbers.to_numpy(dtype=object, na_value=None)
    # Instances are (nearly) all distinct: hash row by row rather than factorize first.
    messages = [
        None if record is None or instance is None else f"{record}:{form}:{instance}"
        for record, instance in zip(records, instance_numbers)
    ]
    digests = _digests(messages, key=key, project=project, length=length)
    return pd.Series(pd.array(digests, dtype="string"), index=record_ids.index, name=record_ids.name)
