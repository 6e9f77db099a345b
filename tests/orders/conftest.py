import pytest


@pytest.fixture
def runners():
    """Loaded trigger runners, each closed (its LISTEN connection too) when the test ends."""
    from orders.trigger_runner import TriggerRunner

    made = []

    def make(**kwargs):
        runner = TriggerRunner(**kwargs)
        made.append(runner)
        runner.load()
        return runner

    yield make
    for runner in made:
        runner.close()
