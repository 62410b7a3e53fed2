#!/usr/bin/env python3
"""test_admin.py's slow case alone, so that it runs beside the others: a
control client that connects and says nothing is closed after 30 s (and a
client that keeps asking meanwhile is not)."""

import os
import runpy
import sys

os.environ["MB_SLOW_TESTS"] = "1"
sys.argv[1:] = ["BadInput.test_silent_client_is_closed_after_30_s"]
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_admin.py"),
               run_name="__main__")
