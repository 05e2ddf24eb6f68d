"""deepart-hf predict --output killed while it writes, or out of disk space: the earlier output is left whole,
the error is one line, and the same command again writes the complete file."""

import signal
import subprocess
import sys

from fault_injection import environment, no_bigger_files_than

from deepart_hf.cli import main as cli

# deepart-hf predict, with the CSV writer killing its own process after the header and the first row (SIGKILL: no
# cleanup runs)
KILLED_WHILE_WRITING = """
import csv, os, signal, sys
from deepart_hf.cli import main

make_writer = csv.writer


class KilledAfterOneRow:
    def __init__(self, handle, *args, **kwargs):
        self.handle, self.writer = handle, make_writer(handle, *args, **kwargs)

    def writerow(self, row):
        return self.writer.writerow(row)

    def writerows(self, rows):
        for row in rows:
            self.writer.writerow(row)
            self.handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)


csv.writer = KilledAfterOneRow
sys.exit(main(sys.argv[1:]))
"""


def run_cli(code, *argv, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, env=environment(), **options
    )


def predict_command(run, output, *extra):
    return ["predict", "--model", run, run / "examples", "--output", output, "--quiet", *extra]


def test_a_kill_while_writing_leaves_the_earlier_output_whole_and_the_next_run_completes_it(reference_run, tmp_path):
    output = tmp_path / "results.csv"
    assert cli([*map(str, predict_command(reference_run, output))]) == 0
    complete = output.read_bytes()
    assert len(complete.splitlines()) == 1 + len(list((reference_run / "examples").iterdir()))
    earlier = b"file,prob_ai,log_odds_ai,decision,error\nan-earlier-run.png,0.5,0.0,ai,\n"
    output.write_bytes(earlier)

    killed = run_cli(KILLED_WHILE_WRITING, *predict_command(reference_run, output, "--overwrite"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert output.read_bytes() == earlier  # not replaced by a half-written file
    assert [path.name for path in tmp_path.iterdir() if not path.name.startswith(".")] == ["results.csv"]

    assert cli([*map(str, predict_command(reference_run, output, "--overwrite"))]) == 0
    assert output.read_bytes() == complete


def test_a_full_disk_is_one_line_and_leaves_the_earlier_output_whole(reference_run, tmp_path):
    output = tmp_path / "results.jsonl"
    earlier = b'{"file": "an-earlier-run.png"}\n'
    output.write_bytes(earlier)
    full = run_cli(
        "import sys; from deepart_hf.cli import main; sys.exit(main(sys.argv[1:]))",
        *predict_command(reference_run, output, "--overwrite"),
        preexec_fn=no_bigger_files_than(64),
    )
    # (other libraries may note on stderr what the file-size limit keeps them from caching)
    errors = [line for line in full.stderr.splitlines() if "error" in line.lower()]
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr
    assert errors == [f"deepart-hf predict: error: cannot write --output {output}: File too large"], full.stderr
    assert output.read_bytes() == earlier
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.jsonl"]  # no temporary file left
