from api.api_kit import world

__all__ = ["world"]
