"""Room spec files: validation errors name file and key; people, JIDs and groups resolve;
Jitsi tokens verify with the shared secret."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from bridges.rooms.settings import RoomsSection
from bridges.rooms.spec import SpecError, read_specs, resolve
from bridges.rooms.video import VideoLinks
from samtek.clock import Clock
from samtek.groups import StaticGroups, UnknownGroup
from samtek.model import Person

PEOPLE = {
    "kari": Person("kari", "kari@region.test", "Kari", "kongsberg"),
    "ola": Person("ola", "ola@region.test", "Ola", "kongsberg"),
}
MUC = "conference.region.test"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def test_single_room_file_and_portfolio_resolve(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", 'id = "a"\nname = "A"\nowners = ["kari"]\nmembers = ["x@other.no"]\n')
    write(
        tmp_path,
        "b.toml",
        '[groups]\nplan = ["ola", "kari"]\n\n[[rooms]]\nid = "b"\nname = "B"\n'
        'owners = ["kari"]\ngroups = ["plan"]\nvideo = { enabled = false }\n',
    )
    rooms = {r.id: r for r in resolve(read_specs(tmp_path), PEOPLE, MUC)}
    assert rooms["a"].jid == "a@conference.region.test"
    assert rooms["a"].members == {"x@other.no"}
    assert rooms["b"].owners == {"kari@region.test"}
    assert rooms["b"].members == {"ola@region.test"}  # an owner is never also a member
    assert rooms["b"].spec.video.enabled is False


def test_errors_name_file_and_key(tmp_path: Path) -> None:
    one = write(
        tmp_path, "one.toml", 'id = "Bad Id"\nname = "X"\nowners = ["kari"]\npublik = true\n'
    )
    many = write(
        tmp_path,
        "many.toml",
        '[[rooms]]\nid = "ok"\nname = "Ok"\nowners = ["nobody"]\ngroups = ["ghosts"]\n'
        "start = 2026-05-01\nend = 2026-04-01\n",
    )
    with pytest.raises(SpecError) as exc:
        read_specs(tmp_path)
    errors = exc.value.errors
    assert any(e.startswith(f"{one}: id:") and "not a room id" in e for e in errors), errors
    assert f"{one}: publik: unknown key (did you mean 'public'?)" in errors, errors
    assert any(e.startswith(f"{many}: rooms[0]") and "before start" in e for e in errors), errors

    write(
        tmp_path,
        "many.toml",
        '[[rooms]]\nid = "ok"\nname = "Ok"\nowners = ["nobody"]\ngroups = ["ghosts"]\n',
    )
    one.unlink()
    with pytest.raises(SpecError) as exc:
        resolve(read_specs(tmp_path), PEOPLE, MUC)
    assert exc.value.errors == [
        f"{many}: rooms[0].owners[0]: unknown person id 'nobody' (not in [[people]])",
        f"{many}: rooms[0].groups[0]: unknown group 'ghosts'",
        f"{many}: rooms[0].owners: a room needs at least one owner",
    ]


def test_duplicate_room_ids(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", 'id = "same"\nname = "A"\nowners = ["kari"]\n')
    write(tmp_path, "b.toml", 'id = "same"\nname = "B"\nowners = ["kari"]\n')
    with pytest.raises(SpecError, match="duplicate room id 'same'"):
        read_specs(tmp_path)


def test_group_directory_protocol() -> None:
    groups = StaticGroups({"plan": {"Kari@Region.test"}})
    assert groups.members("plan") == {"kari@region.test"}
    with pytest.raises(UnknownGroup):
        groups.members("nope")


@pytest.mark.clock_sensitive  # Jitsi checks nbf/exp on its own (real) clock, as jwt.decode does
def test_jitsi_member_token(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    monkeypatch.setenv("JITSI_SECRET", "a-32-byte-or-longer-test-secret!!")
    settings = RoomsSection.model_validate(
        {
            "spec_dir": "x",
            "jitsi_base_url": "https://meet.example.no/",
            "jitsi_app_id": "samtek",
            "jitsi_secret": "env:JITSI_SECRET",
        }
    )
    video = VideoLinks(settings, clock)
    url = video.member_url("vei", "kari@region.test", "Kari")
    assert url.startswith("https://meet.example.no/vei?jwt=")
    claims = jwt.decode(
        url.split("jwt=")[1],
        "a-32-byte-or-longer-test-secret!!",
        algorithms=["HS256"],
        audience="jitsi",
    )
    assert (claims["iss"], claims["sub"], claims["room"]) == ("samtek", "meet.example.no", "vei")
    assert claims["context"]["user"]["id"] == "kari@region.test"
    unsigned = VideoLinks(RoomsSection.model_validate({"spec_dir": "x"}))
    assert unsigned.member_url("vei", "kari@region.test", "Kari") == "https://meet.jit.si/vei"


def test_single_room_file_with_a_groups_list(tmp_path: Path) -> None:
    """deploy/rooms.md: a one-room file's `groups = [...]` is the room's groups; a `[groups]`
    table is the file's group definitions."""
    write(
        tmp_path,
        "a.toml",
        'id = "a"\nname = "A"\nowners = ["kari"]\ngroups = ["plan"]\n',
    )
    rooms = resolve(read_specs(tmp_path), PEOPLE, MUC, extra_groups={"plan": ["ola"]})
    assert rooms[0].spec.groups == ["plan"]
    assert rooms[0].members == {"ola@region.test"}
