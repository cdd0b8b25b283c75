"""The reference for bench_service.py: the most trivial faust agent (consume, send), nothing learned.

    python benchmarks/trivial_agent.py --bootstrap 127.0.0.1:19092 --prefix bench. --group trivial
"""

from __future__ import annotations

import argparse
import tempfile

import faust

INPUTS = ("hpc.job-submissions", "hpc.job-completions", "hpc.node-health")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--group", default="trivial")
    args = parser.parse_args()

    app = faust.App(args.group, broker=f"kafka://{args.bootstrap}", key_serializer="raw", value_serializer="raw",
                    consumer_auto_offset_reset="earliest", broker_session_timeout=10, topic_disable_leader=True,
                    web_enabled=False, datadir=tempfile.mkdtemp(prefix="trivial-faust-"))
    inputs = app.topic(*(args.prefix + t for t in INPUTS), key_type=bytes, value_type=bytes)
    output = app.topic(args.prefix + "hpc.predictions", key_type=bytes, value_type=bytes)

    @app.agent(inputs)
    async def forward(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await output.send(key=event.key, value=event.value)

    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.spinner = None  # as perfstream's worker: no terminal spinner logging every DEBUG record
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
