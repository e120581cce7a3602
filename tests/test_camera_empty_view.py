"""EmptyView (sans-I/O): when a camera may skip the full search of a view that has not changed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.empty_view import EmptyView
from simulators.camera import Label, Scene

EMPTY = Scene([], 1280, 720, seed=4)


def test_nothing_counts_as_unchanged_before_a_search_found_nothing():
    view = EmptyView()
    blocks = view.blocks(EMPTY.frame(0))
    assert not view.unchanged(blocks)
    view.searched(blocks, found=True)
    assert not view.unchanged(blocks)
    view.searched(blocks, found=False)
    assert view.unchanged(blocks)


def test_sensor_noise_is_unchanged_and_a_label_coming_into_view_is_a_change():
    view = EmptyView()
    view.searched(view.blocks(EMPTY.frame(0)), found=False)
    # Each frame has fresh sensor noise (sigma 4 grey levels): the block means hardly move.
    assert all(view.unchanged(view.blocks(EMPTY.frame(i))) for i in range(1, 6))
    for label in (Label("qr", "X", module=5), Label("datamatrix", "SMALL", module=2, x=0.9, y=0.1),
                  Label("ean-13", "4006381333931", module=2, contrast=0.3)):
        frame = Scene([label], 1280, 720, seed=4).frame(1)
        assert not view.unchanged(view.blocks(frame)), label


def test_a_search_that_found_something_ends_the_shortcut_until_one_finds_nothing_again():
    view = EmptyView()
    empty = view.blocks(EMPTY.frame(0))
    view.searched(empty, found=False)
    view.searched(view.blocks(EMPTY.frame(1)), found=True)  # e.g. a code only ZBar reads, in the same view
    assert not view.unchanged(empty)


def test_a_frame_of_another_size_or_an_empty_one_is_never_unchanged():
    view = EmptyView()
    view.searched(view.blocks(EMPTY.frame(0)), found=False)
    assert not view.unchanged(view.blocks(np.zeros((0, 0), np.uint8)))
    assert not view.unchanged(view.blocks(Scene([], 640, 480, seed=4).frame(1)))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300), st.integers(0, 2**32 - 1))
def test_any_grey_frame_gives_blocks_and_an_answer(height, width, seed):
    frame = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    view = EmptyView()
    blocks = view.blocks(frame)
    view.searched(blocks, found=False)
    assert view.unchanged(blocks) is (frame.size > 0)


@pytest.mark.parametrize("shift", [-20, 20])
def test_a_change_of_light_over_the_whole_view_is_a_change(shift):
    view = EmptyView()
    frame = EMPTY.frame(0)
    view.searched(view.blocks(frame), found=False)
    lit = np.clip(frame.astype(int) + shift, 0, 255).astype(np.uint8)
    assert not view.unchanged(view.blocks(lit))
