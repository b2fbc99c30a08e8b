"""Gateway keys' limits: policies, the limiter (in process or Redis), headers, estimates."""
