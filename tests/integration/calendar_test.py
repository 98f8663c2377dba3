#!/usr/bin/env python3
"""Job schedules (issue 8, Must hold 6): `mxvault calendar` computes the same
elapse times as systemd's own `systemd-analyze calendar` for the documented
subset of OnCalendar expressions, in a zone with daylight-saving changes and
in UTC, and refuses what it does not support with a reason.

usage: calendar_test.py BUILD_BIN_DIR (or a binary in it)"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from vaulttest import bin_dir  # noqa: E402

MXVAULT = os.path.join(bin_dir(), "mxvault")
if not shutil.which("systemd-analyze"):
    print("SKIP: systemd-analyze not installed")
    sys.exit(77)

EXPRESSIONS = [
    "daily", "hourly", "minutely", "weekly", "monthly", "quarterly", "semiannually", "yearly", "annually",
    "Mon..Fri 02:00", "Sat,Sun 03:30:15", "*-*-01 00:00", "*:*:0/5", "*:0/15", "8..18/2:00", "*-02-29 12:00",
    "Mon *-*-1..7 01:00", "weekly UTC", "*-*-* 23:59:59", "Tue,Thu *-*-* 02:30", "*-*-* 02:30",  # DST gap in Berlin
    "*-*-* 01:30:00 UTC", "2026..2028-06-15 09:00", "*-1/3-1 06:00", "Fri *-*-13 13:13:13", "Sun 03:00",
    "*-*-* *:00/20:30", "monday..wednesday 05:05", "12-25 07:00", "*-*-* 00,12:00",
]
BASES = [1774000000, 1790000000, 1761440000]  # winter; summer; the night before a change back
ZONES = ["Europe/Berlin", "UTC", "America/New_York"]
failures = []


def systemd_times(expr, base, zone):
    out = subprocess.run(["systemd-analyze", "calendar", "--iterations=5", "--base-time=@%d" % base, expr],
                         env=dict(os.environ, TZ=zone), capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None
    times = []
    for line in out.stdout.splitlines():
        m = re.search(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)", line)
        if m:
            stamp = subprocess.run(["date", "-d", "%s %s" % (m.group(1), m.group(2)), "+%s"],
                                   env=dict(os.environ, TZ=zone), capture_output=True, text=True).stdout.strip()
            times.append(int(stamp))
    return times


def mxvault_times(expr, base, zone):
    out = subprocess.run([MXVAULT, "--json", "calendar", "--iterations", "5", "--base-time", "@%d" % base, expr],
                         env=dict(os.environ, TZ=zone), capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None, out.stderr
    return [n["unix"] for n in json.loads(out.stdout)[0]["next"]], ""


compared = 0
for zone in ZONES:
    for base in BASES:
        for expr in EXPRESSIONS:
            want = systemd_times(expr, base, zone)
            got, err = mxvault_times(expr, base, zone)
            compared += 1
            if want != got:
                failures.append("%s @%d TZ=%s: systemd %s, mxvault %s %s" % (expr, base, zone, want, got, err))

# Refused with a reason, exit 2 (USAGE), nothing printed on stdout.
for bad, why in [("*-*~03", "'~'"), ("Mon..Fry 02:00", "weekday"), ("25:00", "hour"), ("*:*:00.5", "fractional"),
                 ("02:00 Europe/Berlin", "expected"), ("*:0/0", "step"), ("", "empty")]:
    out = subprocess.run([MXVAULT, "calendar", bad], capture_output=True, text=True, timeout=30)
    if out.returncode != 2 or why not in out.stderr or "[USAGE]" not in out.stderr:
        failures.append("%r: exit %d, stderr %r (want USAGE mentioning %r)" % (bad, out.returncode, out.stderr, why))

print("compared %d expression/base/zone cases with systemd-analyze" % compared)
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
