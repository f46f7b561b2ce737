"""npmaudit: audit npm-ecosystem projects for vulnerable and malicious dependencies.

The public API is small on purpose: read a project, load advisories, match them, judge the result.
"""

__version__ = "0.1.0"
