#!/usr/bin/env python3
"""Draw casyncio's speed against stock asyncio and uvloop as a PNG.

    python bench/chart.py [RESULTS.json] [-o bench/speed.png] [--native]

RESULTS.json is what ``python bench/versions.py --json FILE`` writes (the
default is the committed bench/results-2026-12-07.json): per CPython
version, casyncio's ops/s over that version's stock asyncio and over
uvloop, per workload.  Two panels, one bar per version; the caption gives
the date, machine, interpreter versions and the casyncio commit of the run.
Needs matplotlib (``pip install '.[bench]'``).
"""
import argparse
import json
import os
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "results-2026-12-07.json")
COLORS = ["#4c72b0", "#55a868", "#c44e52", "#8172b2", "#dd8452"]


def load(path):
    with open(path) as f:
        return json.load(f)


def caption(doc):
    pythons = ", ".join(v["python"].replace("CPython ", "")
                        for v in doc["versions"].values())
    uvloops = sorted({v["uvloop"] for v in doc["versions"].values()})
    text = (f"Measured {doc['date']} on {doc['cpu']}: CPython {pythons}; "
            f"uvloop {', '.join(uvloops)}; casyncio at {doc['casyncio']}. "
            f"{doc['method'][0].upper()}{doc['method'][1:]}. Bars: casyncio's ops/s divided by the other "
            f"loop's, same version, same run (higher is better). "
            f"python bench/versions.py --json; bench/chart.py.")
    return "\n".join(textwrap.wrap(text, 190))


def draw(doc, out, native=False):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    versions = list(doc["versions"])
    names = [n for n in next(iter(doc["versions"].values()))["ratios"]
             if native or not n.endswith("[native]")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.42 * len(names) + 2.2),
                             sharey=True)
    height = 0.8 / len(versions)
    for ax, key, title in (
            (axes[0], "vs_asyncio", "casyncio vs stock asyncio"),
            (axes[1], "vs_uvloop", "casyncio vs uvloop")):
        top = 0
        for i, v in enumerate(versions):
            ratios = doc["versions"][v]["ratios"]
            vals = [(ratios.get(n) or {}).get(key) or 0 for n in names]
            ys = [k + (i - (len(versions) - 1) / 2) * height
                  for k in range(len(names))]
            ax.barh(ys, vals, height=height, color=COLORS[i % len(COLORS)],
                    label=f"{v}")
            top = max(top, max(vals))
        ax.axvline(1, color="black", linewidth=1)
        if key == "vs_asyncio":
            ax.axvline(2, color="grey", linewidth=1, linestyle="--")
        ax.set_title(title, fontsize=12)
        ax.set_xlim(0, top * 1.05)
        ax.set_xlabel("times faster (1x = as fast)")
        ax.xaxis.set_major_formatter(
            matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}x"))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)))
    axes[0].set_yticklabels(names, fontfamily="monospace")
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, [f"CPython {v}" for v in labels], loc="upper center",
               ncol=len(versions), fontsize=9, frameon=False)
    fig.text(0.01, 0.01, caption(doc), fontsize=7.5, va="bottom",
             ha="left", color="#333333")
    fig.tight_layout(rect=(0, 0.08 + 0.2 / len(names), 1, 0.95))
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="?", default=DEFAULT,
                    help="JSON from bench/versions.py --json")
    ap.add_argument("-o", "--output", default=os.path.join(HERE, "speed.png"))
    ap.add_argument("--native", action="store_true",
                    help="also the [native] rows (casyncio.sleep/gather)")
    args = ap.parse_args()
    draw(load(args.results), args.output, args.native)
    print(f"chart written to {args.output}")


if __name__ == "__main__":
    main()
