"""The search: generators propose candidates, the supervisor has each judged and keeps the best.

``types`` holds the generator interface and its records; ``registry`` the kinds a swarm file may
name; ``builtin`` the offline torch.compile search; ``llm`` the OpenAI-compatible and Anthropic
models; ``prompts`` and ``extract`` what a model is told and how its code is taken out of its
reply; ``swarm_file`` the swarm file; ``supervisor`` the rounds.
"""
