"""docs/api-guide.md runs as written: every ``sh`` block of the guide, in order, against
``settlement serve --demo`` on a fresh embedded store (issue 11: the curl walkthrough must run in order
on the demo store).

A block runs with ``curl --fail-with-body``, so a refused request fails the test, unless the comment
line before the block says what the guide expects instead (``<!-- expect: 403 -->``). A block after
``<!-- not run: … -->`` is skipped (``make run`` itself). Shell variables carry from block to block as
they do in the reader's terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.bench.ports import free_port

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api-guide.md"
MARK = re.compile(r"<!--\s*(expect:\s*(?P<status>\d{3})|not run\b[^>]*)\s*-->")

pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class Block:
    line: int  # the line of the opening fence, for the failure message
    code: str
    expect: int | None  # the status the guide says this block's requests answer; None: 2xx
    run: bool


def guide_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```sh":
            start = index
            index += 1
            body: list[str] = []
            while lines[index].strip() != "```":
                body.append(lines[index])
                index += 1
            before = next((line for line in reversed(lines[:start]) if line.strip()), "")
            mark = MARK.fullmatch(before.strip())
            expect = int(mark["status"]) if mark and mark["status"] else None
            run = not (mark and mark["status"] is None)
            blocks.append(Block(start + 1, "\n".join(body), expect, run))
        index += 1
    return blocks


NORMAL = 'curl() { command curl --fail-with-body "$@"; }'


def expecting(status: int) -> str:
    return (
        "curl() { local code; "
        'code=$(command curl -o "$GUIDE_WORK/answer" -w "%{http_code}" "$@") || return 1; '
        'cat "$GUIDE_WORK/answer"; echo; '
        f'[ "$code" = {status} ] || {{ echo "expected {status}, got $code" >&2; return 1; }}; }}'
    )


def walkthrough_script(blocks: list[Block], port: int) -> str:
    parts = ["set -euo pipefail", NORMAL]
    for number, block in enumerate(blocks):
        if not block.run:
            continue
        code = block.code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        parts.append(f'echo "--- block {number} (docs/api-guide.md line {block.line})" >&2')
        if block.expect is not None:
            parts += [expecting(block.expect), code, NORMAL]
        else:
            parts.append(code)
    parts.append('echo "--- the walkthrough ran to its end" >&2')
    return "\n".join(parts) + "\n"


def test_the_guide_marks_its_blocks_as_the_harness_reads_them() -> None:
    blocks = guide_blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) > 20
    assert [b.expect for b in blocks if b.expect] == [403, 409]  # R6's closed folder, R7f's second date
    assert sum(not b.run for b in blocks) == 1  # only `make run`
    script = walkthrough_script(blocks, 1234)
    assert "127.0.0.1:8000" not in script and "127.0.0.1:1234/api/v1" in script


def test_the_curl_walkthrough_runs_in_order_on_the_demo_store(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    server_dir = tmp_path / "server"
    work = tmp_path / "reader"
    server_dir.mkdir()
    work.mkdir()
    (work / "docs").symlink_to(GUIDE.parent)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SETTLEMENT_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(bin_dir / "settlement"), "serve", "--demo", "--port", str(port)],
        cwd=server_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo server did not start"
            time.sleep(0.5)
        script = walkthrough_script(guide_blocks(GUIDE.read_text(encoding="utf-8")), port)
        reader_env = env | {
            "SETTLEMENT_JWT_SECRET_FILE": str(server_dir / "var" / "jwt-secret"),
            "GUIDE_WORK": str(tmp_path),
        }
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=work,
            env=reader_env,
            capture_output=True,
            text=True,
            timeout=400,
        )
        (tmp_path / "reader.out").write_text(done.stdout, encoding="utf-8")  # what the reader saw
        trail = done.stderr[-4000:]
        assert done.returncode == 0, f"{trail}\n--- stdout (end)\n{done.stdout[-2000:]}"
        assert "the walkthrough ran to its end" in done.stderr
        # What the guide promises along the way, checked in what the reader saw.
        assert '"rule":"R6"' in done.stdout and '"rule":"R7f"' in done.stdout
        # in bokmål, as the guide quotes them (no Accept-Language sent)
        assert "Personmappen åpnes når kommunen har tatt imot personen." in done.stdout
        assert "imported" in done.stdout.split()
        assert (
            (work / "anmodninger-og-vedtak.csv").read_text(encoding="utf-8-sig").startswith("Kommunenummer;")
        )
        assert (work / "vedtaksbrev.pdf").read_bytes().startswith(b"%PDF")
        assert (work / "saksmappe.pdf").read_bytes().startswith(b"%PDF")
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
