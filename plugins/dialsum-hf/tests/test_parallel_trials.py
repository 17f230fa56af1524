"""Trainers set up in parallel threads (Optuna ``n_jobs``) leave the running ones' accelerate state alone."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from dialsum_hf.training import shared_trainer_setup, training_arguments


def _set_up_in_a_worker_thread(ctx: Any, tmp_path: Path) -> list[BaseException]:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with shared_trainer_setup() as shared:
                args = training_arguments(ctx, tmp_path, 4, 2, 10, False, shared_state=shared)
                assert args.device.type in ("cpu", "cuda")  # the devices are set up here
        except BaseException as exc:  # reported to the test's thread
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return errors


def test_a_worker_threads_arguments_keep_the_state_a_running_trainer_uses(context, tmp_path: Path) -> None:
    from accelerate import Accelerator

    running = Accelerator(cpu=True)  # what a trainer in another thread holds while it trains
    assert _set_up_in_a_worker_thread(context({}), tmp_path) == []
    # transformers resets the process-wide state for each new TrainingArguments; read from under a
    # running trainer this raised "`AcceleratorState` object has no attribute `distributed_type`"
    assert running.num_processes == 1 and running.distributed_type is not None


def test_the_main_thread_keeps_a_fresh_state_per_run(context, tmp_path: Path) -> None:
    with shared_trainer_setup() as shared:
        assert shared is False
        args = training_arguments(context({}), tmp_path, 4, 2, 10, False, shared_state=shared)
    assert args.accelerator_config.use_configured_state is False
