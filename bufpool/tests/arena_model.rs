//! Model test: random operation sequences on an `Arena` and on a
//! `HashMap<u32, T>` must agree after every step.

use std::collections::HashMap;

use bufpool::{Arena, Handle};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u16),
    Remove(u32),
    Get(u32),
    Set(u32, u16),
    NextOccupied(usize),
    Clear,
    ShrinkToFit,
}

fn op() -> impl Strategy<Value = Op> {
    // Indices a little past the live range, so vacant slots get probed too.
    prop_oneof![
        8 => any::<u16>().prop_map(Op::Insert),
        5 => (0..48u32).prop_map(Op::Remove),
        3 => (0..48u32).prop_map(Op::Get),
        2 => (0..48u32, any::<u16>()).prop_map(|(i, v)| Op::Set(i, v)),
        3 => (0..52usize).prop_map(Op::NextOccupied),
        1 => Just(Op::ShrinkToFit),
        1 => Just(Op::Clear),
    ]
}

fn handle(index: u32) -> Handle {
    Handle::from_index(index as usize).unwrap()
}

proptest! {
    #[test]
    fn arena_matches_hashmap(ops in prop::collection::vec(op(), 1..300)) {
        let mut arena = Arena::new();
        let mut model: HashMap<u32, u16> = HashMap::new();
        // One past the highest slot ever filled, since the last clear or
        // shrink: below it, vacant slots wait for reuse.
        let mut slots = 0u32;

        for op in ops {
            match op {
                Op::Insert(v) => {
                    let h = arena.insert(v);
                    let i = u32::try_from(h.index()).unwrap();
                    prop_assert!(!model.contains_key(&i), "handed out live slot {i}");
                    if (model.len() as u32) < slots {
                        prop_assert!(i < slots, "did not reuse a freed slot: {i}");
                    }
                    slots = slots.max(i + 1);
                    model.insert(i, v);
                }
                Op::Remove(i) => {
                    prop_assert_eq!(arena.remove(handle(i)), model.remove(&i));
                }
                Op::Get(i) => {
                    prop_assert_eq!(arena.get(handle(i)), model.get(&i));
                    prop_assert_eq!(arena.contains(handle(i)), model.contains_key(&i));
                }
                Op::Set(i, v) => {
                    if let Some(slot) = arena.get_mut(handle(i)) {
                        *slot = v;
                    }
                    if let Some(slot) = model.get_mut(&i) {
                        *slot = v;
                    }
                }
                Op::NextOccupied(from) => {
                    let expected = model
                        .iter()
                        .filter(|(&i, _)| i as usize >= from)
                        .min_by_key(|(&i, _)| i)
                        .map(|(&i, v)| (handle(i), v));
                    prop_assert_eq!(arena.next_occupied(from), expected);
                }
                Op::ShrinkToFit => {
                    arena.shrink_to_fit();
                    slots = model.keys().max().map_or(0, |&i| i + 1);
                }
                Op::Clear => {
                    arena.clear();
                    model.clear();
                    slots = 0;
                }
            }

            prop_assert_eq!(arena.len(), model.len());
            prop_assert_eq!(arena.is_empty(), model.is_empty());
            let mut expected: Vec<_> = model.iter().map(|(&i, &v)| (handle(i), v)).collect();
            expected.sort_unstable();
            let actual: Vec<_> = arena.iter().map(|(h, &v)| (h, v)).collect();
            prop_assert_eq!(actual, expected);
        }
    }
}
