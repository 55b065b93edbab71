"""Quitting the app while a step hangs in user code: the process exits all the same."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import asyncio, threading
    from optimstep.tui import cli

    cli.STEP_GRACE_SECONDS = 0.2

    class App:
        # Stands in for the Textual app: starts a step that never returns, then quits.
        def run(self, loop):
            async def main():
                loop.run_in_executor(None, threading.Event().wait)
                await asyncio.sleep(0.05)
                return {status}
            return loop.run_until_complete(main())

    print("returned", cli.run_app(App()))
""")


def run_script(status: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT.format(status=status)],
                          capture_output=True, text=True, timeout=60)


def test_quit_during_hung_step_exits_with_app_status():
    finished = run_script(0)
    assert finished.returncode == 0
    assert finished.stdout == ""
    assert finished.stderr.strip() == (
        "optimstep: a step was still running in the model, loss or optimizer when the app "
        "quit; exited without waiting for it")


def test_quit_during_hung_step_keeps_nonzero_status():
    assert run_script(3).returncode == 3


def test_quit_after_steps_returns_normally():
    script = textwrap.dedent("""
        import asyncio
        from optimstep.tui import cli

        class App:
            def run(self, loop):
                async def main():
                    await loop.run_in_executor(None, sum, [1, 2])
                    return 0
                return loop.run_until_complete(main())

        print("returned", cli.run_app(App()))
    """)
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=60)
    assert (finished.returncode, finished.stdout, finished.stderr) == (0, "returned 0\n", "")
