#!/bin/sh
# Stands in for the unit tests when configure found no cmocka.
echo "FAIL: cmocka was not found by configure: install libcmocka-dev and re-run configure" >&2
exit 1
