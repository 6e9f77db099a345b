"""Domain errors with machine-readable codes (invariant 8). Their JSON form is Alpaca's shape
({"code": <int>, "message": ...}) so alpaca-py's APIError parses it, plus "reason", a stable string
code clients can branch on; tradex.api_errors renders them. No web framework imports here: services
raise these."""


class TradeXError(Exception):
    http_status = 422
    alpaca_code = 42210000

    def __init__(self, reason: str, message: str, *, http_status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        if http_status is not None:
            self.http_status = http_status

    def as_body(self) -> dict:
        return {"code": self.alpaca_code if self.http_status == type(self).http_status else self.http_status * 100000,
                "reason": self.reason, "message": self.message}


class InvalidInput(TradeXError):
    http_status = 422
    alpaca_code = 42210000


class NotFound(TradeXError):
    http_status = 404
    alpaca_code = 40410000

    def __init__(self, message: str = "resource not found", reason: str = "not_found"):
        super().__init__(reason, message)


class Refused(TradeXError):
    """A business rule refused the request (risk, buying power, state)."""

    http_status = 403
    alpaca_code = 40310000


class Conflict(TradeXError):
    http_status = 422
    alpaca_code = 42210000
