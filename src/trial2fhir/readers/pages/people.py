"""Named segmenters for people and places: officials, contacts, sites and their contacts.

Pages print a person as a run of lines (``Name`` / ``Role: X`` / phone / e-mail) or as labelled
list items (``- Study coordinator: Name``); a site as ``Facility`` / ``City, State, Country`` /
[STATUS] / [contacts], or on one line (``- Facility — City, Country (STATUS)``). What no rule
reads is reported unplaced.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trial2fhir.readers.pages.kit import Draft, Line, solid
from trial2fhir.readers.pages.shapes import VOCAB, code

if TYPE_CHECKING:
    from trial2fhir.readers.pages.layout import SectionRule

_ROLE = re.compile(r"Role:\s*(\S.*)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[\d(][\d\s().\-/]{4,}\d(?:\s*(?:ext\.?|x|#)\s*(\d+))?", re.IGNORECASE)
_PHONE_EXT = re.compile(r"\s*(?:ext\.?|x|#)\s*\d+$", re.IGNORECASE)
_PLACE = re.compile(r"([^,]+),\s*([^,]*),\s*(?:([^,]*),\s*)?([^,]+)")  # City, State, [Zip,] Country


def _people(lines: list[Line], draft: Draft) -> list[tuple[Line, str, list[Line]]]:
    """``Name`` / ``Role: X`` / details... -> (name line, role, detail lines) per person."""
    rows = solid(lines)
    roles = [i for i, line in enumerate(rows) if _ROLE.fullmatch(line.text.strip())]
    draft.lose(rows[: roles[0] - 1] if roles and roles[0] > 0 else ([] if roles else rows))
    people = []
    for k, r in enumerate(roles):
        if r == 0 or (k and roles[k - 1] == r - 1):
            draft.lost(rows[r])
            continue
        end = roles[k + 1] - 1 if k + 1 < len(roles) else len(rows)
        m = _ROLE.fullmatch(rows[r].text.strip())
        assert m
        people.append((rows[r - 1], m.group(1).strip(), rows[r + 1:end]))
    return people


def officials(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """Each person's lines after the role are the affiliation."""
    for name, role, rest in _people(lines, draft):
        affiliation = "; ".join(line.text.strip() for line in rest) or None
        draft.add(rule.to or "overall_officials", {"name": name.text.strip(), "role": role,
                                                   "affiliation": affiliation}, name)


def _contact(draft: Draft, name: str | None, role: str | None, rest: list[Line]) -> dict[str, Any]:
    contact: dict[str, Any] = {"name": name, "role": role}
    for line in rest:
        body = line.text.strip()
        phone = _PHONE.fullmatch(body)
        if _EMAIL.fullmatch(body) and not contact.get("email"):
            contact["email"] = body
        elif phone and not contact.get("phone"):
            contact["phone"] = _PHONE_EXT.sub("", body) if phone.group(1) else body
            contact["phone_ext"] = phone.group(1)
        else:
            draft.lost(line)
    return contact


def _is_detail(line: Line) -> bool:
    body = line.text.strip()
    return bool(_ROLE.fullmatch(body) or _PHONE.fullmatch(body) or _EMAIL.fullmatch(body))


def _contact_runs(draft: Draft, lines: list[Line]) -> list[dict[str, Any]]:
    """``Name`` / [``Role: X``] / phone / email; a line that is no detail starts a new contact."""
    runs: list[list[Line]] = []
    for line in lines:
        if not runs or not _is_detail(line):
            runs.append([])
        runs[-1].append(line)
    contacts = []
    for run in runs:
        role = _ROLE.fullmatch(run[1].text.strip()) if len(run) > 1 else None
        rest = run[2:] if role else run[1:]
        contacts.append(_contact(draft, run[0].text.strip(), role.group(1) if role else None, rest))
    return contacts


def central_contacts(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    path = rule.to or "central_contacts"
    if not any(_ROLE.fullmatch(line.text.strip()) for line in lines):
        for contact in _contact_runs(draft, solid(lines)):
            draft.add(path, contact, lines[0])
        return
    for name, role, rest in _people(lines, draft):
        draft.add(path, _contact(draft, name.text.strip(), role, rest), name)


def sites(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """``Facility`` / ``City, State, Country`` / [STATUS] / [contacts]; the state may be empty."""
    rows = solid(lines)
    places = [i for i, line in enumerate(rows) if _PLACE.fullmatch(line.text.strip())]
    draft.lose(rows[: places[0] - 1] if places and places[0] > 0 else ([] if places else rows))
    for k, p in enumerate(places):
        m = _PLACE.fullmatch(rows[p].text.strip())
        assert m
        has_facility = p > 0 and (k == 0 or places[k - 1] < p - 1)
        end = places[k + 1] - 1 if k + 1 < len(places) else len(rows)
        if k + 1 < len(places) and places[k + 1] == p + 1:
            end = p + 1
        city, state, zip_code, country = (g.strip() if g else None for g in m.groups())
        site: dict[str, Any] = {"facility": rows[p - 1].text.strip() if has_facility else None,
                                "city": city or None, "state": state or None, "zip": zip_code or None,
                                "country": country or None}
        rest = rows[p + 1:end]
        if rest and rest[0].text.strip() in VOCAB["status"]:
            site["status"] = rest.pop(0).text.strip()
        site["contacts"] = _contact_runs(draft, rest)
        draft.add(rule.to or "locations", site, rows[p])


_SITE_LINE = re.compile(r"-\s+(?:(?P<facility>.+?)\s+[—–]\s+)?(?P<place>[^()]+?)(?:\s*\((?P<status>[^()]+)\))?")


def site_lines(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """``- Facility — City, State, Country (STATUS)`` lines; other lines are group headings
    (``Hangzhou, Zhejiang``), placed when a site below them is in that place."""
    path = rule.to or "locations"
    headings: list[Line] = []
    for line in solid(lines):
        body = line.text.strip()
        if not body.startswith("-"):
            headings.append(line)
        elif (site := _site_line(body)) is None:
            draft.lost(line)
        else:
            draft.add(path, site, line)
    places = {_place_names(site) for site in draft.get(path) or []}
    draft.lose([h for h in headings if not any(h.text.strip() in names for names in places)])


def _site_line(text: str) -> dict[str, Any] | None:
    m = _SITE_LINE.fullmatch(text)
    if m is None:
        return None
    status = m.group("status")
    recruitment = code(status, "site_status") if status else None
    if status and recruitment is None:
        return None
    parts = [p.strip() for p in m.group("place").split(",")]
    site: dict[str, Any] = {"facility": m.group("facility"), "status": recruitment,
                            "city": parts[0], "country": parts[-1]}
    if len(parts) == 3:
        site["zip" if re.search(r"\d", parts[1]) else "state"] = parts[1]
    elif len(parts) == 4:
        site["state"], site["zip"] = parts[1], parts[2]
    elif len(parts) != 2:
        return None
    return site


def _place_names(site: dict[str, Any]) -> tuple[str, ...]:
    """The ways a group heading may name a site's place."""
    city, state, country = site.get("city"), site.get("state"), site.get("country")
    names = [city, f"{city}, {country}", f"{city}, {state}", f"{city}, {state}, {country}"]
    return tuple(n for n in names if n and "None" not in n)


_ITEM = re.compile(r"-\s*([^:]+?)\s*:\s*(.+)")
CONTACT_FIELDS = {"email": "email", "e-mail": "email", "phone": "phone", "telephone": "phone", "tel": "phone"}


def labelled_contacts(draft: Draft, lines: list[Line], rule: SectionRule) -> None:
    """``- <role>: Name`` starts a contact (``roles`` of the rule); ``- Email:`` / ``- Phone:``
    fill the contact above."""
    path = rule.to or "central_contacts"
    contact: dict[str, Any] | None = None
    for line in solid(lines):
        m = _ITEM.fullmatch(line.text.strip())
        label = " ".join(m.group(1).lower().split()) if m else ""
        if m and label in rule.roles:
            contact = {"name": m.group(2).strip(), "role": rule.roles[label]}
            draft.add(path, contact, line)
        elif m and label in CONTACT_FIELDS:
            key = CONTACT_FIELDS[label]
            if contact is None or contact.get(key):
                contact = {}
                draft.add(path, contact, line)
            contact.update(_phone(m.group(2).strip()) if key == "phone" else {key: m.group(2).strip()})
        else:
            draft.lost(line)


def _phone(value: str) -> dict[str, str]:
    m = re.fullmatch(r"(.+?)\s*(?:ext\.?|extension|x)\s*(\d+)", value, re.IGNORECASE)
    return {"phone": m.group(1), "phone_ext": m.group(2)} if m else {"phone": value}


SEGMENTERS: dict[str, Callable[[Draft, list[Line], SectionRule], None]] = {
    "officials": officials,
    "contacts": central_contacts,
    "labelled_contacts": labelled_contacts,
    "sites": sites,
    "site_lines": site_lines,
}
