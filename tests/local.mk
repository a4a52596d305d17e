# tests/: project-wide checks. Module suites register themselves in their
# own folder's fragment.
TESTS += tests/include-order.sh
EXTRA_DIST += tests/include-order.sh
