"""Fixtures for the tests that type into the conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chat import Chat, make_chat


@pytest.fixture
async def chat(tmp_path: Path) -> Chat:
    """Nobody registered yet."""
    return await make_chat(tmp_path)
