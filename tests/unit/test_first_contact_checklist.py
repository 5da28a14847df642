"""hw_tests/first_contact.py against the stand-in: all steps pass on a sound board, the failing
step names samna's error on a faulty one, and everything skips cleanly without samna or a board."""

from __future__ import annotations

import pytest

from hw_tests.first_contact import STEPS, main, run_checklist


def _statuses(results):
    return [r.status for r in results]


@pytest.mark.parametrize("chip", ["xylo-audio2", "xylo-imu", "xylo-audio3"])
def test_every_step_passes_on_a_sound_board(fake_samna, chip):
    lines = []
    results = run_checklist(chip=chip, samna=fake_samna([chip]), out=lines.append)
    assert _statuses(results) == ["PASS"] * len(STEPS), "\n".join(lines)
    assert lines[0].startswith("[1/8] discover") and "bit-exact" in lines[3] and "offset 0" in lines[5]


def test_a_failing_step_shows_samnas_error_and_blocks_its_dependents(fake_samna):
    samna = fake_samna(["xylo-imu"])
    samna.boards[0].faults.raise_in["apply_configuration"] = ValueError("Fan-out RAM overflow")
    lines = []
    results = run_checklist(samna=samna, out=lines.append)
    assert _statuses(results)[:3] == ["PASS", "PASS", "FAIL"]
    assert "applying the configuration failed: samna raised ValueError: Fan-out RAM overflow" in lines[2]
    assert results[3].status == "SKIP" and "needs step 3" in results[3].detail
    assert results[6].status == "PASS"  # power needs only an open board


def test_wrong_readout_offset_is_caught(fake_samna, monkeypatch):
    from dataclasses import replace

    from xylodeploy.backends.samna import config as _samna_config

    a3 = _samna_config.DIALECTS["xyloAudio3"]
    monkeypatch.setitem(_samna_config.DIALECTS, "xyloAudio3", replace(a3, start_offset=1))
    results = run_checklist(chip="xylo-audio3", samna=fake_samna(["xylo-audio3"]), realtime=False, out=lambda _l: None)
    assert results[4].status == "FAIL" and "differs from the reference" in results[4].detail  # one step late
    assert results[5].status == "SKIP"  # needs the recorded clip
    assert results[7].status == "SKIP" and "--skip-realtime" in results[7].detail


def test_skips_cleanly_without_board_or_samna(fake_samna, capsys):
    results = run_checklist(chip="xylo-audio3", samna=fake_samna(["xylo-imu"]), out=lambda _l: None)
    assert _statuses(results) == ["SKIP"] * len(STEPS)
    assert "no xylo-audio3 board attached" in results[0].detail
    assert main(["--chip", "xylo-audio2"], samna=fake_samna([])) == 0
    assert "0 passed, 0 failed, 8 skipped" in capsys.readouterr().out
