"""Outputs of a run: atomic files, JUnit XML and CSV rows."""

import contextlib
import os
import signal
import stat
import threading
import xml.etree.ElementTree as ET

import pytest

from optimstep.core import Stepper, preset
from optimstep.core.export import (
    CSV_COLUMNS, CheckTally, atomic_file, check_target, csv_rows, junit_xml,
)


@pytest.fixture(scope="module")
def records():
    return Stepper.from_scenario(preset()).run(3)


def test_atomic_file_writes(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_file(path) as file:
        file.write("hello\n")
    assert path.read_text() == "hello\n"


def test_atomic_file_keeps_existing_without_force(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(FileExistsError):
        with atomic_file(path) as file:
            file.write("new")
    assert path.read_text() == "old"


def test_atomic_file_replaces_with_force(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_file(path, force=True) as file:
        file.write("new")
    assert path.read_text() == "new"


def test_atomic_file_error_keeps_old_content(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(path, force=True) as file:
            file.write("half")
            raise RuntimeError("stopped")
    assert path.read_text() == "old"


def test_atomic_file_error_leaves_no_temporary(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_file(tmp_path / "out.txt") as file:
            file.write("half")
            raise RuntimeError("stopped")
    assert os.listdir(tmp_path) == []


def test_atomic_file_missing_folder(tmp_path):
    path = tmp_path / "absent" / "out.txt"
    with pytest.raises(FileNotFoundError) as error:
        with atomic_file(path) as file:
            file.write("x")
    assert error.value.filename == str(path)


def test_atomic_file_parent_is_a_file(tmp_path):
    (tmp_path / "plain").write_text("")
    with pytest.raises(NotADirectoryError):
        check_target(tmp_path / "plain" / "out.txt")


def test_atomic_file_target_is_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError):
        check_target(tmp_path, force=True)


def test_atomic_file_mode_follows_umask(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "out.txt") as file:
            file.write("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644


@contextlib.contextmanager
def file_size_limit(size):
    """Limit files this process writes to `size` bytes, so writes past it fail with EFBIG."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # Ignored SIGXFSZ turns the signal that would end the process into an OSError.
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def write_past_limit(path):
    with file_size_limit(4096):
        with atomic_file(path, force=True) as file:
            for _ in range(100):
                file.write("x" * 1000)


def test_full_disk_error_names_target(tmp_path):
    path = tmp_path / "out.txt"
    with pytest.raises(OSError) as error:
        write_past_limit(path)
    assert error.value.filename == str(path)


def test_full_disk_leaves_no_temporary(tmp_path):
    with pytest.raises(OSError):
        write_past_limit(tmp_path / "out.txt")
    assert os.listdir(tmp_path) == []


def test_full_disk_keeps_old_content(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(OSError):
        write_past_limit(path)
    assert path.read_text() == "old"


def test_tally_counts_steps(records):
    tally = CheckTally()
    for record in records:
        tally.add(record)
    assert tally.steps == 3
    assert tally.checks == 48
    assert tally.failures == 0


def test_junit_parses_with_one_case_per_kind(records):
    tally = CheckTally()
    for record in records:
        tally.add(record)
    root = ET.fromstring(junit_xml(tally, "optimstep.linear"))
    assert len(root.findall("./testsuite/testcase")) == 16


def test_junit_passing_run_has_no_failure(records):
    tally = CheckTally()
    for record in records:
        tally.add(record)
    root = ET.fromstring(junit_xml(tally, "optimstep.linear"))
    assert root.findall(".//failure") == []


def test_csv_row_per_parameter(records):
    assert [row["param"] for row in csv_rows(records[0])] == ["weight", "bias"]


def test_csv_row_keys_are_columns(records):
    assert tuple(csv_rows(records[0])[0]) == CSV_COLUMNS


def test_csv_grad_norm(records):
    assert csv_rows(records[0])[0]["grad_norm"] == pytest.approx(4.5)


def test_csv_counts_parameter_checks(records):
    assert csv_rows(records[0])[1]["checks"] == 8


def test_symlink_kept_and_target_replaced(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with atomic_file(link, force=True) as file:
        file.write("new")
    assert link.is_symlink()
    assert target.read_text() == "new"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_pipe_written_directly(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with atomic_file(fifo) as file:
        file.write("through the pipe")
    reader.join(timeout=30)
    assert received == ["through the pipe"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
