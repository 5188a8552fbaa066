"""Print ``begin end`` line ranges that split an eval list across G workers (used by the multi-GPU scripts).

    python -m scripts.shard --eval-list datasets/imagenet/val.txt --shards 4
"""

from __future__ import annotations

import argparse

from common.cli_style import OneDefaultFormatter
from common.errors import exit_on_toolkit_error
from common.eval_list import parse_eval_list, shard_ranges


def main(argv: list[str] | None = None) -> list[tuple[int, int]]:
    parser = argparse.ArgumentParser(prog="python -m scripts.shard", description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--eval-list", required=True, help="eval list file, or 'demo'")
    parser.add_argument("--shards", type=int, required=True, help="number of workers (GPUs)")
    args = parser.parse_args(argv)

    def ranges() -> list[tuple[int, int]]:
        return shard_ranges(len(parse_eval_list(args.eval_list)), args.shards)

    result = exit_on_toolkit_error(ranges)()
    for begin, end in result:
        print(begin, end)
    return result


if __name__ == "__main__":
    main()
