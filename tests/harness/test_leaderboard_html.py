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


def chromium(path, *flags, fragment=""):
    """Headless Chromium on the page at ``path``, offline, with ``flags`` (what to do with it)."""
    profile = tempfile.mkdtemp()
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          "--hide-scrollbars", f"--user-data-dir={profile}", *flags, f"file://{path}{fragment}"],
                         capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def dump_dom(path, fragment=""):
    return chromium(path, "--dump-dom", fragment=fragment)


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
    figures = re.findall(r'<img loading="lazy" src="([^"]+\.png)"', index.read_text())
    assert figures and all((board / f).exists() for f in figures)  # linked beside the page, not inlined
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


WIDTH, HEIGHT = 1280, 800
PROBE = """<script>
window.addEventListener("load", () => {
  const table = document.getElementById("t1"), box = table.getBoundingClientRect(), scroll = table.parentElement;
  const select = document.getElementById("family");
  select.value = "pairwise"; select.dispatchEvent(new Event("change"));
  const shown = Array.from(table.tBodies[0].rows).filter(r => !r.classList.contains("filtered")).map(r => r.cells[1].textContent);
  document.body.dataset.probe = JSON.stringify({top: box.top, bottom: box.bottom, right: box.right, height: innerHeight,
    overflow: scroll.scrollWidth - scroll.clientWidth, options: Array.from(select.options).map(o => o.value), shown});
});
</script>"""


def test_the_headline_fills_the_first_screen_at_1280_px_and_the_family_filter_hides_other_families(tmp_path):
    """A screenshot at 1280 × 800: the headline table (a matched-KL ranking of twelve rows of three families)
    starts on the first screen, does not overflow its width, and is drawn there; picking a family hides
    the rows of the others (the reference stays, as the row every other is compared with)."""
    import json

    from matplotlib.image import imread

    from tests.helpers import interval, lm_result

    prompts = 16
    samples = lambda rewards: {"prompt_ids": list(range(prompts)), "texts": [""] * prompts, "rewards": rewards}
    names = [("dpo", "pairwise"), ("ipo", "pairwise"), ("kto", "pairwise"), ("simpo", "pairwise"), ("orpo", "pairwise"),
             ("slic-hinge", "pairwise"), ("ppo", "rl-with-reward"), ("grpo", "rl-with-reward"),
             ("reinforce-pp-baseline", "rl-with-reward"), ("online-dpo", "online-preference"), ("xpo", "online-preference")]
    results = tmp_path / "results"
    for seed in range(3):
        base = [0.05 * (p % 5) for p in range(prompts)]
        docs = [lm_result(algorithm="reference", family="reference", seed=seed,
                          eval={"samples": samples(base), "gold_reward": interval(0.1)})]
        for i, (name, family) in enumerate(names):
            rewards = [r + 0.03 * i + 0.01 * ((p + seed) % 3) for p, r in enumerate(base)]
            docs.append(lm_result(algorithm=name, family=family, seed=seed, train={"wall_time_s": 1234.0},
                                  eval={"samples": samples(rewards), "gold_reward": interval(0.5),
                                        "sequence_kl": interval(2.5 + i / 10)}))
        for doc in docs:
            write_json_atomic(result_path(results, "smol-sentiment", doc["algorithm"], seed, doc["hash"]), doc)
    board = tmp_path / "board"
    index = render(results, board)[1]
    probe = board / "probe.html"
    probe.write_text(index.read_text().replace("</body>", PROBE + "</body>"))
    found = re.search(r'data-probe="([^"]*)"', dump_dom_sized(probe))
    measured = json.loads(found.group(1).replace("&quot;", '"'))
    assert measured["top"] < measured["height"]  # the headline starts on the first screen (the viewport's height)
    assert measured["right"] <= WIDTH and measured["overflow"] <= 0  # and fits its width: no horizontal scroll
    assert measured["options"] == ["", "online-preference", "pairwise", "rl-with-reward"]
    assert sorted(r.split()[0] for r in measured["shown"]) == sorted([n for n, f in names if f == "pairwise"])

    shot = tmp_path / "first-screen.png"
    chromium(index, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    pixels = imread(shot)
    assert pixels.shape[1] == WIDTH
    top, bottom = int(measured["top"]), min(int(measured["bottom"]), pixels.shape[0])
    assert (pixels[top:bottom, :, :3] < 0.5).any(axis=2).mean() > 0.01  # the table is drawn there: dark text


def dump_dom_sized(path):
    return chromium(path, f"--window-size={WIDTH},{HEIGHT}", "--dump-dom")
