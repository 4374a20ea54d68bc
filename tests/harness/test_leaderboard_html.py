"""The HTML leaderboard, opened in headless Chromium (Debian's ``chromium``): rows and sorting."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import pytest

from prefzoo.benchmarks.harness.results import result_path, write_json_atomic
from prefzoo.benchmarks.suites.lm.suite import PROFILES
from prefzoo.leaderboard.render import render

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")


def metric(mean, half):
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": 64}


def lm_doc(name, gold, kl, seed=0, tokens_per_s=100.0):
    """A result document of the smol-sentiment suite with made-up numbers."""
    is_ref = name == "reference"
    return {
        "suite": "smol-sentiment", "dataset": "smol-sentiment", "has_gold": True, "algorithm": name, "seed": seed,
        "hash": f"h{name}", "profile": "quick", "settings": PROFILES["quick"].to_dict(), "data_key": "k",
        "engine_revision": 2, "prefzoo_version": "0.1.0", "config": {}, "origin": "",
        "family": "reference" if is_ref else "pairwise", "paper": "" if is_ref else f"paper of {name}",
        "train": None if is_ref else {"wall_time_s": 10.0, "tokens": 1000, "tokens_per_s": tokens_per_s,
                                      "peak_memory_bytes": 2**30, "history": []},
        "eval": {"gold_reward": metric(gold, 0.05), "generated_tokens": 1000,
                 **({} if is_ref else {"kl": metric(kl, 1.0), "win_rate": metric(0.6, 0.1),
                                       "pair_accuracy": metric(0.55, 0.1)})},
    }


def dump_dom(path, fragment=""):
    profile = tempfile.mkdtemp()
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={profile}", "--dump-dom", f"file://{path}{fragment}"],
                         capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def first_cells(dom, table_id):
    table = re.search(rf'<table class="sortable" id="{table_id}">(.*?)</table>', dom, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]


def test_html_page_carries_the_readme_and_sorts_formatted_numbers_in_chromium(tmp_path):
    results, board = tmp_path / "results", tmp_path / "board"
    for name, gold, kl, speed in [("reference", 0.25, 0.0, 0), ("dpo", 0.45, 20.0, 2274.0), ("ipo", 0.35, 2.0, 980.0),
                                  ("simpo", 0.30, 9.0, 12000.0)]:
        write_json_atomic(result_path(results, "smol-sentiment", name, 0, f"h{name}"), lm_doc(name, gold, kl,
                                                                                           tokens_per_s=speed))
    readme, index = render(results, board)
    dom = dump_dom(index)
    rows = first_cells(dom, "t1")
    assert [r[1] for r in rows] == ["dpo", "ipo", "simpo", "reference"]  # ranked by gold reward
    assert rows[0][3].startswith("0.450 [0.400, 0.500]") and rows[3][4] == "—"
    assert "data:image/png;base64," in index.read_text()  # the figure travels inside the page
    for text in ("Intervals are 95%", "Smoke run (1 seed per row): not evidence.", "Budget shared by every algorithm"):
        assert text in readme.read_text() and text in dom  # the page is the README
    assert 'class="cost"' in dom and 'class="hide-costs"' in dom  # cost columns folded by default

    headline = re.search(r'<table class="sortable" id="t1">(.*?)</table>', dom, re.S).group(1)
    assert len(re.findall(r"<th[^>]*>", headline)) <= 9  # the headline first, in a few columns
    full = re.search(r'<table class="sortable" id="t2">(.*?)</table>', dom, re.S).group(1)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", full)  # the section's full table
    speed = headers.index("tokens/s")
    by_speed = first_cells(dump_dom(index, f"#sort=t2:{speed}:desc"), "t2")  # "12,000" > "2,274" > "980"
    assert [r[1] for r in by_speed] == ["simpo", "dpo", "ipo", "reference"]
    by_kl = first_cells(dump_dom(index, f"#sort=t2:{headers.index('log π/π_ref (nats)')}:desc"), "t2")
    assert [r[1] for r in by_kl] == ["dpo", "simpo", "ipo", "reference"]
    by_name = first_cells(dump_dom(index, "#sort=t2:1:asc"), "t2")
    assert [r[1] for r in by_name] == ["dpo", "ipo", "reference", "simpo"]
