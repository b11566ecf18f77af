#!/usr/bin/env python3
"""run.py (and net.py echo) on every supported CPython, one table; or,
with --apps, apps.py's real servers on every supported CPython.

    python bench/versions.py [--versions 3.11,...,3.15] [--quick]
                             [--rounds N] [--only PATTERN] [--net]
                             [--json FILE]
    python bench/versions.py --apps [ROWS] [--versions ...] [--rounds N]

Each version runs the same benchmark as its own interpreter would: 3.11 is
the interpreter running this script, 3.12 and 3.13 come from pyenv, 3.14 and
3.15 from the Debian root folder (.ci/pyroot run).  Every version's run
compares casyncio with that version's stock asyncio and uvloop, interleaved
as run.py does; this script only collects the ratios into one Markdown table
with a version column (each version's own table is printed as it finishes).
--json FILE writes the same ratios, with each version's interpreter and
uvloop, for bench/chart.py.
--apps runs bench/apps.py (default rows aiohttp,starlette,asgi,websockets)
instead of run.py on every version and collects one Markdown table: per
row and version, the server CPU per request of stock asyncio, uvloop and
casyncio, casyncio's over the other two, casyncio's req/s over uvloop's,
and the load average before and after that version's run.
casyncio is taken from python/ of this tree: build it in place for every
version first (README, "For contributors").
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from net import build_rows, fmt_us, fmt_x  # noqa: E402
PYROOT_VERSIONS = ("3.14", "3.15")


def command(version, argv):
    """argv run by *version*'s interpreter, in the project's root."""
    if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return [sys.executable] + argv, None
    if version in PYROOT_VERSIONS:
        return ["bash", os.path.join(ROOT, ".ci", "pyroot"), "run", version,
                "python"] + argv, None
    out = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True,
                         text=True, check=True).stdout.split()
    found = sorted((v for v in out if v.startswith(version + ".")
                    and v.count(".") == 2 and v.replace(".", "").isdigit()),
                   key=lambda v: tuple(map(int, v.split("."))))
    if not found:
        sys.exit(f"versions.py: no pyenv CPython {version}")
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return [os.path.join(root, "versions", found[-1], "bin", "python")] \
        + argv, None


def ratio(doc, workload, base, impl):
    res = doc["workloads"][workload]["results"]
    base_res = doc["workloads"][base]["results"]
    mine = (res.get("casyncio") or {}).get("median_ops_per_s")
    other = (base_res.get(impl) or {}).get("median_ops_per_s")
    return f"{mine / other:.2f}x" if mine and other else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--versions", default="3.11,3.12,3.13,3.14,3.15")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--only")
    ap.add_argument("--net", action="store_true",
                    help="also net.py echo (protocol and streams, 1 and "
                         "100 KiB) on every version")
    ap.add_argument("--json", metavar="FILE",
                    help="also write the ratio table as JSON (bench/chart.py "
                         "draws it)")
    ap.add_argument("--apps", nargs="?", metavar="ROWS",
                    const="aiohttp,starlette,asgi,websockets",
                    help="apps.py's rows (default: all four) instead of "
                         "run.py; --json FILE then keeps every version's "
                         "apps.py samples")
    args = ap.parse_args()
    versions = args.versions.split(",")
    # Inside the tree (build/ is ignored by git): the root folder's runs see
    # the tree, not this machine's /tmp.
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bench-versions-",
                           dir=os.path.join(ROOT, "build"))
    if args.apps:
        return apps(args, versions, tmp)
    docs = {}
    for v in versions:
        out = os.path.join(tmp, f"run-{v}.json")
        argv = ["bench/run.py", "--casyncio-path", os.path.join(ROOT, "python"),
                "--json", out]
        argv += ["--quick"] if args.quick else []
        argv += ["--rounds", str(args.rounds)] if args.rounds else []
        argv += ["--only", args.only] if args.only else []
        cmd, env = command(v, argv)
        print(f"=== CPython {v}: {' '.join(argv)}", flush=True)
        subprocess.run(cmd, cwd=ROOT, env=env)
        if os.path.exists(out):
            with open(out) as f:
                docs[v] = json.load(f)
        if args.net:
            cmd, env = command(v, [
                "bench/net.py", "echo", "--kinds", "protocol,streams",
                "--sizes", "1,100", "--rounds", str(args.rounds or 3),
                "--casyncio-path", os.path.join(ROOT, "python"),
                "--markdown"])
            print(f"=== CPython {v}: net.py echo", flush=True)
            subprocess.run(cmd, cwd=ROOT, env=env)
    if not docs:
        sys.exit("versions.py: no run finished")
    names = list(next(iter(docs.values()))["workloads"])
    print("\n| workload | " + " | ".join(
        f"{v} vs asyncio | {v} vs uvloop" for v in docs) + " |")
    print("|---|" + "---:|---:|" * len(docs))
    for name in names:
        cells = []
        for v, doc in docs.items():
            if name not in doc["workloads"]:
                cells += ["-", "-"]
                continue
            base = doc["workloads"][name]["base"] or name
            cells += [ratio(doc, name, base, "asyncio"),
                      ratio(doc, name, base, "uvloop")]
        print(f"| `{name}` | " + " | ".join(cells) + " |")
    print("\n" + "; ".join(
        f"{v}: {d['meta'].get('python')}, uvloop {d['meta'].get('uvloop')}"
        for v, d in docs.items()))
    if args.json:
        write_json(args.json, docs, names, args)


def apps_table(rows, docs, loads):
    """Markdown lines: per row and version (docs: version -> apps.py's
    --json), the medians' CPU per request and casyncio's ratios."""
    impls = ["asyncio", "uvloop", "casyncio"]
    out = ["| row | version | asyncio CPU us/req | uvloop CPU us/req | "
           "casyncio CPU us/req | cpu c/asyncio | cpu c/uvloop | "
           "req/s c/uvloop | load 1/5 min before -> after |",
           "|---|---|" + "---:|" * 6 + "---|"]
    for row in rows:
        for v, doc in docs.items():
            results = {(tuple(r["row"]), r["impl"]): r["samples"]
                       for r in doc["results"]}
            med = build_rows([(row,)], impls, results)[0][1]
            cpu = {i: med[i][2] if i in med else None for i in impls}
            rate = {i: med[i][0] if i in med else None for i in impls}
            out.append(f"| `{row}` | {v} | " + " | ".join(
                [fmt_us(cpu[i]) for i in impls]
                + [fmt_x(cpu["casyncio"], cpu["asyncio"]),
                   fmt_x(cpu["casyncio"], cpu["uvloop"]),
                   fmt_x(rate["casyncio"], rate["uvloop"]),
                   loads.get(v, "-")]) + " |")
    return out


def apps(args, versions, tmp):
    """apps.py on every version, then one table of all of them."""
    rows = args.apps.split(",")
    docs, loads = {}, {}
    for v in versions:
        out = os.path.join(tmp, f"apps-{v}.json")
        argv = ["bench/apps.py", "--rows", args.apps, "--rounds",
                str(args.rounds or 3), "--casyncio-path",
                os.path.join(ROOT, "python"), "--markdown", "--json", out]
        cmd, env = command(v, argv)
        print(f"=== CPython {v}: {' '.join(argv)}", flush=True)
        load0 = os.getloadavg()
        subprocess.run(cmd, cwd=ROOT, env=env)
        load1 = os.getloadavg()
        loads[v] = (f"{load0[0]:.1f}/{load0[1]:.1f} -> "
                    f"{load1[0]:.1f}/{load1[1]:.1f}")
        if os.path.exists(out):
            with open(out) as f:
                docs[v] = json.load(f)
    if not docs:
        sys.exit("versions.py: no apps.py run finished")
    print("\n" + "\n".join(apps_table(rows, docs, loads)))
    print("\n" + "; ".join(f"{v}: {d['header']['python']}"
                           for v, d in docs.items()))
    first = next(iter(docs.values()))["header"]
    print(f"{first['date']}, {first['cpu']}; {first['packages']}; "
          f"{first['method']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"loads": loads, "versions": docs}, f, indent=1)
            f.write("\n")


def write_json(path, docs, names, args):
    """The ratio table as bench/chart.py reads it: per version, casyncio's
    ops/s over stock asyncio's and over uvloop's, per workload."""
    def number(cell):
        return float(cell[:-1]) if cell.endswith("x") else None

    first = next(iter(docs.values()))["meta"]
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                             "HEAD"], capture_output=True, text=True)
    out = {
        "what": "casyncio ops/s divided by the same version's stock asyncio "
                "and uvloop ops/s, same run (bench/versions.py)",
        "date": first.get("date"),
        "cpu": first.get("cpu"),
        "casyncio": commit.stdout.strip() or None,
        "method": first.get("method"),
        "quick": bool(args.quick),
        "versions": {},
    }
    for v, doc in docs.items():
        rows = {}
        for name in names:
            if name not in doc["workloads"]:
                continue
            base = doc["workloads"][name]["base"] or name
            rows[name] = {
                "vs_asyncio": number(ratio(doc, name, base, "asyncio")),
                "vs_uvloop": number(ratio(doc, name, base, "uvloop"))}
        out["versions"][v] = {"python": doc["meta"].get("python"),
                              "uvloop": doc["meta"].get("uvloop"),
                              "ratios": rows}
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
