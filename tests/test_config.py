"""Configuration: defaults, validation, context restoration and thread isolation."""

import contextvars
import threading

import numpy as np
import pytest

import xplearn
from xplearn import config_context, get_config, set_config

DEFAULTS = {
    "dtype_policy": "preserve",
    "working_memory": 256,
    "kernel": "auto",
    "n_threads": None,
    "assume_finite": False,
}


@pytest.fixture(autouse=True)
def _isolated_config():
    """Every test runs in its own context, so a set_config never leaks into others."""
    with config_context():
        yield
    assert get_config() == DEFAULTS


def test_defaults():
    assert get_config() == DEFAULTS


def test_public_reexports():
    assert xplearn.get_config is get_config
    assert xplearn.set_config is set_config
    assert xplearn.config_context is config_context


def test_get_config_returns_a_copy():
    config = get_config()
    config["dtype_policy"] = "float32"
    config["new_key"] = 1
    assert get_config() == DEFAULTS


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("dtype_policy", "float32"),
        ("dtype_policy", "float64"),
        ("dtype_policy", "mixed"),
        ("kernel", "xp"),
        ("kernel", "numba"),
        ("working_memory", 64),
        ("working_memory", 0.5),
        ("n_threads", 3),
        ("assume_finite", True),
    ],
)
def test_set_config_sets_one_option(name, value):
    set_config(**{name: value})
    expected = dict(DEFAULTS, **{name: value})
    assert get_config() == expected


def test_set_config_none_keeps_current_values():
    set_config(dtype_policy="float32", n_threads=2)
    set_config(kernel="xp")
    assert get_config() == dict(DEFAULTS, dtype_policy="float32", n_threads=2, kernel="xp")
    set_config(n_threads=None)  # None means "unchanged" for set_config
    assert get_config()["n_threads"] == 2


def test_numpy_integer_n_threads_is_accepted_and_stored_as_int():
    set_config(n_threads=np.int64(4))
    value = get_config()["n_threads"]
    assert value == 4
    assert type(value) is int


@pytest.mark.parametrize(
    ("name", "value", "error", "match"),
    [
        ("dtype_policy", "float16", ValueError, "dtype_policy must be one of"),
        ("dtype_policy", "Float32", ValueError, "dtype_policy must be one of"),
        ("dtype_policy", 32, ValueError, "dtype_policy must be one of"),
        ("kernel", "cuda", ValueError, "kernel must be one of"),
        ("kernel", 1, ValueError, "kernel must be one of"),
        ("working_memory", 0, ValueError, "working_memory must be a positive number"),
        ("working_memory", -5, ValueError, "working_memory must be a positive number"),
        ("working_memory", "256", ValueError, "working_memory must be a positive number"),
        ("working_memory", True, ValueError, "working_memory must be a positive number"),
        ("working_memory", float("nan"), ValueError, "working_memory must be a positive number"),
        ("working_memory", float("inf"), ValueError, "working_memory must be a positive number"),
        ("n_threads", 0, ValueError, "n_threads must be None or a positive integer"),
        ("n_threads", -1, ValueError, "n_threads must be None or a positive integer"),
        ("n_threads", 2.0, ValueError, "n_threads must be None or a positive integer"),
        ("n_threads", "2", ValueError, "n_threads must be None or a positive integer"),
        ("n_threads", True, ValueError, "n_threads must be None or a positive integer"),
        ("assume_finite", "yes", TypeError, "assume_finite must be a bool"),
        ("assume_finite", 1, TypeError, "assume_finite must be a bool"),
    ],
)
def test_set_config_rejects_bad_values(name, value, error, match):
    before = get_config()
    with pytest.raises(error, match=match) as info:
        set_config(**{name: value})
    assert "set_config()" in str(info.value)
    assert repr(value) in str(info.value)
    assert get_config() == before
    # config_context checks values the same way
    with pytest.raises(error, match=match), config_context(**{name: value}):
        pass  # pragma: no cover
    assert get_config() == before


def test_set_config_validation_is_all_or_nothing():
    with pytest.raises(ValueError, match="kernel"):
        set_config(dtype_policy="float32", kernel="bogus")
    assert get_config() == DEFAULTS


def test_config_context_sets_and_restores():
    with config_context(dtype_policy="mixed", working_memory=8, kernel="xp", n_threads=1):
        assert get_config() == dict(
            DEFAULTS, dtype_policy="mixed", working_memory=8, kernel="xp", n_threads=1
        )
    assert get_config() == DEFAULTS


def test_config_context_none_sets_n_threads_to_none():
    set_config(n_threads=3)
    with config_context(n_threads=None):
        assert get_config()["n_threads"] is None
    assert get_config()["n_threads"] == 3


def test_config_context_nesting():
    with config_context(dtype_policy="float32"):
        with config_context(kernel="xp"):
            assert get_config()["dtype_policy"] == "float32"
            assert get_config()["kernel"] == "xp"
            with config_context(dtype_policy="float64"):
                assert get_config()["dtype_policy"] == "float64"
                assert get_config()["kernel"] == "xp"
            assert get_config()["dtype_policy"] == "float32"
        assert get_config()["kernel"] == "auto"
        assert get_config()["dtype_policy"] == "float32"
    assert get_config() == DEFAULTS


def test_config_context_restores_on_exception():
    class Boom(Exception):
        pass

    def fail_inside():
        with config_context(dtype_policy="float64", n_threads=2):
            assert get_config()["dtype_policy"] == "float64"
            raise Boom

    with pytest.raises(Boom):
        fail_inside()
    assert get_config() == DEFAULTS


def test_config_context_restores_set_config_made_inside():
    with config_context(kernel="xp"):
        set_config(dtype_policy="mixed", working_memory=1)
        assert get_config()["dtype_policy"] == "mixed"
    assert get_config() == DEFAULTS


def test_config_context_unknown_option():
    with (
        pytest.raises(TypeError, match="unknown option 'dtype'") as info,
        config_context(dtype="float32"),
    ):
        pass  # pragma: no cover
    assert "dtype_policy" in str(info.value)  # lists the valid names
    assert get_config() == DEFAULTS


def test_set_config_unknown_option():
    with pytest.raises(TypeError):
        set_config(dtype="float32")


def test_config_context_is_thread_local():
    """A value set in one thread is seen by that thread only, even while both run."""
    barrier = threading.Barrier(2, timeout=10)
    seen = {}
    errors = []

    def worker(name, policy):
        try:
            if policy is None:
                barrier.wait()  # the other thread has entered its context
                seen[name] = get_config()["dtype_policy"]
                barrier.wait()  # ... and is still inside it
            else:
                with config_context(dtype_policy=policy):
                    barrier.wait()
                    barrier.wait()
                    seen[name] = get_config()["dtype_policy"]
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [
        threading.Thread(target=worker, args=("setter", "float32")),
        threading.Thread(target=worker, args=("reader", None)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors
    assert seen == {"setter": "float32", "reader": "preserve"}
    assert get_config()["dtype_policy"] == "preserve"


def test_two_threads_with_different_settings_do_not_interfere():
    barrier = threading.Barrier(2, timeout=10)
    seen = {}

    def worker(policy, n_threads):
        with config_context(dtype_policy=policy, n_threads=n_threads):
            barrier.wait()
            seen[policy] = (get_config()["dtype_policy"], get_config()["n_threads"])
            barrier.wait()

    threads = [
        threading.Thread(target=worker, args=("float32", 1)),
        threading.Thread(target=worker, args=("float64", 2)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert seen == {"float32": ("float32", 1), "float64": ("float64", 2)}


def test_set_config_in_thread_is_not_seen_by_main_thread():
    done = threading.Event()

    def worker():
        set_config(kernel="xp")
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert done.wait(10)
    thread.join(10)
    assert get_config()["kernel"] == "auto"


def test_set_config_in_a_copied_context_does_not_leak():
    def inner():
        set_config(dtype_policy="float64")
        return get_config()["dtype_policy"]

    assert contextvars.copy_context().run(inner) == "float64"
    assert get_config()["dtype_policy"] == "preserve"
