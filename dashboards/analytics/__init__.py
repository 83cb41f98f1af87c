"""Score analytics: distributions, trends, breakdowns, agreement between scores, judge calibration
(dashboards/ANALYTICS.md)."""
