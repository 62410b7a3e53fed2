#!/usr/bin/env python3
"""test_stats.py's slow case alone, so that it runs beside the others: an
HTTP client that sends half a request line and then nothing is closed by the
stats server after 30 s (while clients through the balancer are served)."""

import os
import runpy
import sys

os.environ["MB_SLOW_TESTS"] = "1"
sys.argv[1:] = ["BadInput.test_half_request_line_is_closed_after_30_s"]
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_stats.py"),
               run_name="__main__")
