#!/usr/bin/env python3
"""Runs senderwatch's end-to-end tests against a real Exim.

    run_e2e.py --plugin build/src/exim/senderwatch.so --cli build/src/cli/senderwatch \
               [test_e2e.BounceRatioLock ...]

CTest calls this once per test class (label "e2e"). It checks what the tests
need (root, exim4 with dlfunc and events, unshare); if something is missing it
prints why and exits with 77, which CTest reports as "skipped". Otherwise it
re-executes itself in a private mount namespace, bind-mounts a private copy of
/etc/exim4 there (eximlab.enter_private_etc) and runs the named unittest
tests (default: all of test_e2e, test_local, test_debian, test_replay and
test_learning).

Set SENDERWATCH_E2E_KEEP=1 to keep every lab directory (logs, spool, store)
for inspection; the directories of failed tests are always kept.
"""

import argparse
import os
import sys
import unittest

# CI sets SENDERWATCH_REQUIRE_E2E=1: there a missing prerequisite is a
# failure, so the end-to-end tests can never pass by being skipped.
SKIP = 1 if os.environ.get("SENDERWATCH_REQUIRE_E2E") == "1" else 77
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugin", help="path of the built senderwatch.so")
    ap.add_argument("--cli", help="path of the built senderwatch command")
    ap.add_argument("tests", nargs="*", help="unittest names (module.Class[.method])")
    args = ap.parse_args()

    sys.path.insert(0, HERE)
    import eximlab

    reason = eximlab.skip_reason()
    if reason:
        print(f"SKIPPED: {reason}")
        return SKIP

    reason = eximlab.run_in_private_namespace(__file__)  # re-executes itself in a namespace
    if reason:
        print(f"SKIPPED: {reason}")
        return SKIP

    # Inside the private namespace from here on.
    if args.plugin:
        eximlab.PLUGIN = os.path.abspath(args.plugin)
    if args.cli:
        eximlab.CLI = os.path.abspath(args.cli)
    base = eximlab.enter_private_etc()
    print(f"[run_e2e] plugin={eximlab.PLUGIN or '-'} cli={eximlab.CLI or '-'} work={base}",
          flush=True)
    try:
        names = args.tests or ["test_e2e", "test_local", "test_debian", "test_replay", "test_learning"]
        suite = unittest.defaultTestLoader.loadTestsFromNames(names)
        result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    finally:
        kept = eximlab.leave_private_etc()
        if kept:
            print(f"[run_e2e] kept lab directories in {base}: {', '.join(kept)}")
    if result.wasSuccessful() and result.testsRun and len(result.skipped) == result.testsRun:
        print("SKIPPED: every test was skipped")
        return SKIP
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
