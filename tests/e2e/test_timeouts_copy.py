#!/usr/bin/env python3
"""Idle timeouts again, on the buffered pump: test_timeouts.py with the daemon's
splice() path turned off (MB_RELAY_SPLICE=0), so that both paths of the relay
are held to the same semantics."""

import os
import runpy

os.environ["MB_RELAY_SPLICE"] = "0"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_timeouts.py"),
               run_name="__main__")
