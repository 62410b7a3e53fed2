#!/usr/bin/env python3
"""test_reset.py on the buffered pump: the daemon's splice() path turned off
(MB_RELAY_SPLICE=0), so that both paths keep every byte before a reset."""

import os
import runpy

os.environ["MB_RELAY_SPLICE"] = "0"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_reset.py"),
               run_name="__main__")
