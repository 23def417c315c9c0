"""Utilities shared by the estimators: validation and thread control."""

from xplearn.utils.validation import check_is_fitted, validate_data

__all__ = ["check_is_fitted", "validate_data"]
