//! [`SizeClasses`]: the wasm module's memory allocator, in place of the standard library's dlmalloc,
//! which is several times larger (docs/wasm-size.md has the measurement).
//!
//! Every request is rounded up to a power of two, its class; each class has a free list, and a freed
//! block waits there for the next request of its class. New blocks are cut from pages the module grows
//! into, aligned to their own size (at most a page). The client's allocations are short-lived frames,
//! paths and snapshots of a few sizes, which classes serve well. The price: up to half of a block is
//! unused, and neighbours never merge; memory is never given back, as wasm memory cannot shrink anyway.
//!
//! On by default (feature `allocator`); a Rust application that brings its own global allocator turns
//! the crate's default features off.
#![allow(unsafe_code)] // An allocator hands out raw memory; each `unsafe` says why it holds.

use core::{arch::wasm32, cell::Cell, ptr};
use std::alloc::{GlobalAlloc, Layout};

/// The size of a wasm page, the unit memory grows by.
const PAGE: usize = 65536;
/// The smallest class, 16 bytes: room for the free list's link, and the alignment of every primitive.
const MIN_CLASS: u32 = 4;

/// The allocator's state. See the module docs.
pub struct SizeClasses {
    /// The first free block of each class (blocks of `1 << class` bytes), 0 if none. The first word of a
    /// free block holds the address of the next one.
    free: [Cell<usize>; usize::BITS as usize],
    /// Where the next new block below a page may start.
    next: Cell<usize>,
    /// The end of the page `next` is in.
    end: Cell<usize>,
}

// SAFETY: wasm32 without the `atomics` feature runs one thread, so the `Cell`s are never shared.
#[cfg(not(target_feature = "atomics"))]
unsafe impl Sync for SizeClasses {}

#[global_allocator]
static ALLOCATOR: SizeClasses =
    SizeClasses { free: [const { Cell::new(0) }; usize::BITS as usize], next: Cell::new(0), end: Cell::new(0) };

/// The class of a request: the smallest power of two, at least 16, that holds its size and alignment.
/// A `Layout`'s size is at most `isize::MAX`, so the class indexes `free`.
fn class(layout: Layout) -> usize {
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    (usize::BITS - (size - 1).leading_zeros()) as usize
}

/// Grows the memory by `pages`; the address of the first new byte, or `None` if the browser refuses.
fn grow(pages: usize) -> Option<usize> {
    match wasm32::memory_grow::<0>(pages) {
        usize::MAX => None,
        old => Some(old * PAGE),
    }
}

impl SizeClasses {
    /// A block of `size` bytes (a power of two) that was never handed out.
    fn new_block(&self, size: usize) -> Option<usize> {
        if size >= PAGE {
            return grow(size / PAGE);
        }
        // Aligned to its size: a block serves any request of its class.
        let start = self.next.get().next_multiple_of(size);
        if start + size <= self.end.get() {
            self.next.set(start + size);
            return Some(start);
        }
        // The rest of the current page is left unused.
        let start = grow(1)?;
        self.next.set(start + size);
        self.end.set(start + PAGE);
        Some(start)
    }
}

unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > PAGE {
            return ptr::null_mut(); // new blocks are aligned to a page at most
        }
        let class = class(layout);
        let head = &self.free[class];
        match head.get() {
            0 => self.new_block(1 << class).map_or(ptr::null_mut(), |block| block as *mut u8),
            block => {
                // SAFETY: `block` is a free block of this class, so its first word is the next one.
                head.set(unsafe { *(block as *const usize) });
                block as *mut u8
            }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let head = &self.free[class(layout)];
        // SAFETY: `block` came from `alloc` with this layout, so it has this class and is at least 16
        // bytes aligned to 16; it is ours again, to hold the link.
        unsafe { *(block as *mut usize) = head.get() };
        head.set(block as usize);
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, fits in an `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class(new_layout) == class(layout) {
            return block; // it still fits: strings and vectors grow in place until their class is full
        }
        // SAFETY: as `GlobalAlloc::realloc`'s default: a new block, the old contents, the old block freed.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                ptr::copy_nonoverlapping(block, new, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            new
        }
    }
}
