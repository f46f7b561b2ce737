"""placeholder"""
def register(subparsers):  # type: ignore
    pass
