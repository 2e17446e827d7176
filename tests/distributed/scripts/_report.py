"""How job scripts hand results to the test: one JSON file per rank in $EMBER_TEST_OUT."""
import json
import os


def out_path(name):
    """A path in the job's output folder."""
    return os.path.join(os.environ.get("EMBER_TEST_OUT", "."), name)


def report(rank, result):
    """Write this rank's result (a JSON-able dict) for the test to read."""
    result = dict(result, rank=rank)
    tmp = out_path(f".rank{rank}.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, out_path(f"rank{rank}.json"))
