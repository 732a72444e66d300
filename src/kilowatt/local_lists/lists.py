"""The lists themselves, without I/O: entries from tokens, differences, and the messages that
carry them within a station's limits (OCPP 1.6 §5.15, §6.41, errata 3.52).

An entry is ``idTag -> idTagInfo`` with the idTagInfo as OCPP sends it (camelCase JSON).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

Entries = dict[str, dict[str, Any]]

FULL, DIFFERENTIAL = "Full", "Differential"


class TokenLike(Protocol):
    id_tag: str
    status: str
    expiry_date: datetime | None
    parent_id_tag: str | None


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def id_tag_info(token: TokenLike, now: datetime) -> dict[str, Any]:
    """What the list says of ``token``: its status (Expired once past its expiry date), expiry
    and parent, as Authorize would answer (ConcurrentTx aside: that is only known online)."""
    status = token.status
    if status == "Accepted" and token.expiry_date is not None and token.expiry_date <= now:
        status = "Expired"
    info: dict[str, Any] = {"status": status}
    if token.expiry_date is not None:
        info["expiryDate"] = _iso(token.expiry_date)
    if token.parent_id_tag is not None:
        info["parentIdTag"] = token.parent_id_tag
    return info


def build_entries(
    tokens: Iterable[TokenLike], now: datetime, max_length: int | None = None
) -> tuple[Entries, int]:
    """The list for ``tokens`` and how many were left out to fit ``max_length`` (the station's
    LocalAuthListMaxLength): Accepted tokens go first, then by id tag."""
    infos = {t.id_tag: id_tag_info(t, now) for t in tokens}
    order = sorted(infos, key=lambda tag: (infos[tag]["status"] != "Accepted", tag))
    if max_length is not None and len(order) > max_length:
        kept = order[: max(max_length, 0)]
        return {tag: infos[tag] for tag in sorted(kept)}, len(order) - len(kept)
    return {tag: infos[tag] for tag in sorted(order)}, 0


def diff(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The AuthorizationData that turn ``current`` into ``desired``: added or changed entries
    with their idTagInfo, removed ones without (a Differential's delete)."""
    changes: list[dict[str, Any]] = []
    for tag in sorted(set(current) | set(desired)):
        if tag not in desired:
            changes.append({"idTag": tag})
        elif current.get(tag) != desired[tag]:
            changes.append({"idTag": tag, "idTagInfo": desired[tag]})
    return changes


def apply(current: Mapping[str, Any], update_type: str, data: list[dict[str, Any]]) -> Entries:
    """The list after a station accepted ``data`` as ``update_type``."""
    entries: Entries = {} if update_type == FULL else dict(current)
    for item in data:
        if "idTagInfo" in item:
            entries[item["idTag"]] = item["idTagInfo"]
        else:
            entries.pop(item["idTag"], None)
    return entries


@dataclass(frozen=True, slots=True)
class Update:
    """One SendLocalList.req."""

    update_type: str
    version: int
    data: list[dict[str, Any]]

    def payload(self) -> dict[str, Any]:
        return {
            "listVersion": self.version,
            "updateType": self.update_type,
            "localAuthorizationList": self.data,
        }


def _chunks(items: list[dict[str, Any]], size: int | None) -> list[list[dict[str, Any]]]:
    if size is None or size <= 0 or len(items) <= size:
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]


def full_updates(desired: Mapping[str, Any], version: int, chunk: int | None) -> list[Update]:
    """A Full list in as many messages as SendLocalListMaxLength (``chunk``) requires: the first
    chunk as Full, the rest as Differentials with rising versions (a Full message can only
    carry what fits, and a second Full would replace the first)."""
    items = [{"idTag": tag, "idTagInfo": desired[tag]} for tag in sorted(desired)]
    updates = []
    for i, part in enumerate(_chunks(items, chunk)):
        updates.append(Update(FULL if i == 0 else DIFFERENTIAL, version + i, part))
    return updates


def differential_updates(
    changes: list[dict[str, Any]], version: int, chunk: int | None
) -> list[Update]:
    """``changes`` as Differentials of at most ``chunk`` entries, versions from ``version``."""
    return [
        Update(DIFFERENTIAL, version + i, part) for i, part in enumerate(_chunks(changes, chunk))
    ]


def next_version(*known: int | None) -> int:
    """A version above every one given; never 0 or -1, which GetLocalListVersion reserves."""
    return max([0, *(v for v in known if v is not None)]) + 1
