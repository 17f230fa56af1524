"""pytest plugin shipped with the core (entry point ``pytest11``), for dialsum's tests and plugin authors'.

Fixtures:

* ``dialsum_plugins`` - a fresh plugin manager with every installed plugin (never shared between tests).
* ``register_plugin`` - ``register_plugin(obj, name)`` adds a plugin object to that manager and
  removes it again when the test ends, whatever happens.
* ``sample_csv`` - ``sample_csv(path, rows, with_summary=True)`` writes a small dialogue CSV.
* ``tiny_dialogues`` - a handful of Korean dialogues with summaries, for quick real runs.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from dialsum_core.manager import Plugins, build_plugins

TINY_DIALOGUES: list[tuple[str, str, str, str]] = [
    (
        "t_0",
        "#Person1#: 안녕하세요, 사과 세 개 주세요.\n#Person2#: 네, 삼천 원입니다.",
        "#Person1#이 사과 세 개를 산다.",
        "쇼핑",
    ),
    (
        "t_1",
        "#Person1#: 내일 회의가 몇 시예요?\n#Person2#: 오전 열 시에 시작해요.",
        "#Person2#가 회의는 오전 열 시라고 말한다.",
        "회의",
    ),
    (
        "t_2",
        "#Person1#: 병원 예약을 하고 싶어요.\n#Person2#: 금요일 오후 두 시 어떠세요?",
        "#Person1#이 금요일 오후 두 시로 병원을 예약한다.",
        "병원",
    ),
    (
        "t_3",
        "#Person1#: 전화번호가 뭐예요?\n#Person2#: #PhoneNumber#입니다.",
        "#Person2#가 #Person1#에게 전화번호를 알려준다.",
        "연락처",
    ),
    (
        "t_4",
        "#Person1#: 버스 정류장이 어디예요?\n#Person2#: 저 건물 앞에 있어요.",
        "#Person2#가 #Person1#에게 버스 정류장을 알려준다.",
        "길 안내",
    ),
    (
        "t_5",
        "#Person1#: 커피 두 잔 주세요.\n#Person2#: 따뜻한 걸로 드릴까요?\n#Person1#: 네.",
        "#Person1#이 따뜻한 커피 두 잔을 주문한다.",
        "카페",
    ),
]


@pytest.fixture
def dialsum_plugins() -> Plugins:
    """A plugin manager built for this test only."""
    return build_plugins()


@pytest.fixture
def register_plugin(dialsum_plugins: Plugins) -> Iterator[Callable[[object, str], Plugins]]:
    added: list[str] = []

    def _register(plugin: object, name: str) -> Plugins:
        dialsum_plugins.add(plugin, name)
        added.append(name)
        return dialsum_plugins

    yield _register
    for name in reversed(added):
        dialsum_plugins.remove(name)


def write_csv(path: Path, rows: Sequence[Sequence[str]], *, with_summary: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["fname", "dialogue", "summary", "topic"] if with_summary else ["fname", "dialogue"])
        for fname, dialogue, summary, topic in rows:
            w.writerow([fname, dialogue, summary, topic] if with_summary else [fname, dialogue])
    return path


@pytest.fixture
def sample_csv() -> Callable[..., Path]:
    return write_csv


@pytest.fixture
def tiny_dialogues() -> list[tuple[str, str, str, str]]:
    return list(TINY_DIALOGUES)
