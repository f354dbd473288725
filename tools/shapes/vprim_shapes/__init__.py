# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""The shapes task: scenes, the tiny vocabulary, the torch twin of vprim's model, its training."""
