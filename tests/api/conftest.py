from tests.support.api import _clear_throttles, _generous_plan

__all__ = ["_clear_throttles", "_generous_plan"]
