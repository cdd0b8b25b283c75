"""Learned state per system after a whole trace: resident memory, checkpoint size, time to seal it.

For the operator's guide ("Sizing"). Each data set runs in a fresh process: its events are read
first, then one ``Processor`` learns all of them; the state's memory is the process's resident set
after minus before (the events stay in memory throughout, so they are not counted). The sealed
checkpoint is what a worker writes to ``hpc.checkpoints`` for the system; sealing it is pickling
(which blocks the worker's event loop) then compressing and signing (which the worker does in a
thread): the median of ``--repeats`` seals, and of the pickling alone.

    python benchmarks/bench_state.py --data ../shared/data --strategy consensus --json bench-state.json
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path

from bench_learning import _measure as in_fresh_process
from tqdm import tqdm

DATA_SETS = {
    "SDSC-SP2": "traces/SDSC-SP2-1998-4.2-cln.swf.gz",
    "CTC-SP2": "traces/CTC-SP2-1996-3.1-cln.swf.gz",
    "HPC2N": "traces/HPC2N-2002-2.2-cln.swf.gz",
    "SDSC-BLUE": "traces/SDSC-BLUE-2000-4.2-cln.swf.gz",
    "Cori": "tokio/cori-summaries_2017-02-14-2018-02-15.csv.gz",
}


def _resident_mib() -> float:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _state(path: str, strategy: str, repeats: int, queue: mp.Queue) -> None:
    from pipeline.processor import STATE_FORMAT, Processor
    from pipeline.service.checkpoint import Checkpoint, freeze, sign
    from pipeline.sources import open_source

    source = open_source(path)
    events = list(source)
    target = "io_throughput_mibps" if source.kind == "tokio" else "runtime_s"
    before = _resident_mib()
    processor = Processor(strategy, (target,))
    for event in events:
        processor.handle(event)
    state_mib = _resident_mib() - before
    (system, state), = processor.systems.items()
    checkpoint = Checkpoint(system, 0, {}, state, strategy, (target,), time.time(), STATE_FORMAT)
    frozen_s, sealed_s = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        frozen = freeze(checkpoint)
        frozen_s.append(time.perf_counter() - started)
        blob = sign(frozen, b"benchmark key, 16+ bytes")
        sealed_s.append(time.perf_counter() - started)
    queue.put({"jobs": source.stats.jobs, "state_mib": state_mib, "checkpoint_mib": len(blob) / 2**20,
               "seal_seconds": statistics.median(sealed_s), "on_loop_seconds": statistics.median(frozen_s)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--strategy", default="consensus")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    rows = {}
    for name, relative in tqdm(DATA_SETS.items(), desc=f"state of {args.strategy}"):
        rows[name] = in_fresh_process(_state, str(Path(args.data) / relative), args.strategy, args.repeats)
    print(f"\n{args.strategy}: state after the whole data set; sealing: median of {args.repeats}")
    print(f"{'system':10} {'jobs':>8} {'state MiB':>10} {'checkpoint MiB':>15} {'sealing s':>10} {'on loop s':>10}")
    for name, row in rows.items():
        print(f"{name:10} {row['jobs']:8,} {row['state_mib']:10.0f} {row['checkpoint_mib']:15.1f} "
              f"{row['seal_seconds']:10.2f} {row['on_loop_seconds']:10.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"strategy": args.strategy, "repeats": args.repeats, "data": rows},
                                              indent=2) + "\n")


if __name__ == "__main__":
    main()
