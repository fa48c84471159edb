"""SQLAlchemy's pytest plugin, for its dialect compliance suite (``sqlalchemy.testing.suite``).

This directory is its own pytest root (``setup.cfg`` here): ``scripts/test-sqlalchemy`` runs
it once per dialect with ``--dburi``; the project's own test run leaves it out
(tests/sqlalchemy/conftest.py), because SQLAlchemy's plugin takes over pytest's session.
"""

import pytest

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402, F403
