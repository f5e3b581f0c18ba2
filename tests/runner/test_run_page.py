"""The run page's rows: loop iterations folded under their loop, a page at a time."""

from __future__ import annotations

from runner.run_page import OpenLoop, block_names, fold_iterations, outer_iteration


def step(key: str, status: str = "completed") -> dict:
    return {"key": key, "name": key.rsplit("/", 1)[-1], "status": status}


def loop_run(items: int) -> list[dict]:
    steps = [step("each")]
    for index in range(items):
        steps += [step(f"each.{index}/square"),
                  step(f"each.{index}/note", "failed" if index == 7 else "completed")]
    return [*steps, step("after")]


def test_iterations_fold_under_their_loop_with_counts_by_status():
    rows = fold_iterations(loop_run(500), OpenLoop())
    assert [row["key"] for row in rows] == ["each", "after"]
    assert rows[0]["iterations"]["total"] == 500
    assert rows[0]["iterations"]["statuses"] == {"completed": 999, "failed": 1}
    assert rows[0]["iterations"]["open"] is False


def test_an_open_loop_shows_one_page_of_iterations_with_its_neighbours():
    rows = fold_iterations(loop_run(500), OpenLoop(key="each", page=2))
    keys = [row["key"] for row in rows]
    assert keys[1:3] == ["each.20/square", "each.20/note"] and keys[-2:] == [
        "each.39/note", "after"]
    paging = rows[0]["iterations"]
    assert (paging["first"], paging["last"], paging["previous"], paging["next"],
            paging["pages"]) == (21, 40, 1, 3, 25)


def test_a_page_past_the_end_shows_the_last_one():
    paging = fold_iterations(loop_run(45), OpenLoop(key="each", page=99))[0]["iterations"]
    assert (paging["page"], paging["first"], paging["last"], paging["next"]) == (3, 41, 45, 0)


def test_nested_loops_fold_under_the_outermost_and_blocks_are_listed_once():
    steps = [step("outer"), step("outer.0/inner"), step("outer.0/inner.0/tick"),
             step("outer.1/inner"), step("outer.1/inner.3/tick")]
    assert outer_iteration("outer.1/inner.3/tick") == ("outer", 1)
    assert outer_iteration("outer") is None
    assert [row["key"] for row in fold_iterations(steps, OpenLoop())] == ["outer"]
    assert block_names(steps) == ["outer", "inner", "tick"]


def test_the_query_is_bounded():
    assert OpenLoop.from_query("x" * 900, "-3") == OpenLoop(key="x" * 500, page=1)
