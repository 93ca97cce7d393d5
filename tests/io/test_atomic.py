"""Atomic writes (kanpde.io.atomic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kanpde.io.atomic import atomic_path, check_writable


def test_writes_creates_parents_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.bin"
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent and temporary.exists() and not target.exists()
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]


def test_error_mid_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_error_before_anything_exists_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "out.bin"):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_suffix_is_kept_on_the_temporary(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "m.vtu", suffix=".vtu") as temporary:
        assert temporary.name.endswith(".vtu")
        temporary.write_text("x")


def test_unwritable_location_names_the_target(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    target = blocker / "sub" / "out.h5"
    with pytest.raises(OSError, match="out.h5"):
        with atomic_path(target):
            pass
    with pytest.raises(IsADirectoryError, match="directory"):
        with atomic_path(tmp_path):
            pass


def test_check_writable_touches_nothing_but_the_parents(tmp_path: Path) -> None:
    target = tmp_path / "new" / "u.h5"
    assert check_writable(target) == target
    assert target.parent.is_dir() and list(target.parent.iterdir()) == []
    target.write_text("old")
    check_writable(str(target))
    assert target.read_text() == "old" and list(target.parent.iterdir()) == [target]
    with pytest.raises(IsADirectoryError, match="new"):
        check_writable(target.parent)
