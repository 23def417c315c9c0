"""Preprocessing: scalers written once against the Array API."""

from xplearn.preprocessing._data import MinMaxScaler, StandardScaler

__all__ = ["MinMaxScaler", "StandardScaler"]
